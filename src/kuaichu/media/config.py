"""A Janus node's configuration folder, as the app expects the node to run.

`janus -C DIR/janus.jcfg -F DIR` then loads only the VideoRoom plugin and the HTTP transport
(API and admin API), asks every request for the api_secret or a stored token, and lets only
the admin_secret create rooms. The tests start Janus from it; the README's "Media server
(Janus)" section shows the same settings for a deployment.
"""

from dataclasses import dataclass
from pathlib import Path

LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")
PLUGINS = (
    "audiobridge",
    "duktape",
    "echotest",
    "lua",
    "nosip",
    "recordplay",
    "sip",
    "streaming",
    "textroom",
    "videocall",
    "voicemail",
)
TRANSPORTS = ("websockets", "pfunix", "mqtt", "nanomsg", "rabbitmq")


@dataclass(frozen=True)
class NodeConfig:
    api_secret: str
    admin_secret: str
    # Where the HTTP transport listens: the API on `api_port`, the admin API on `admin_port`.
    ip: str = "127.0.0.1"
    api_port: int = 8088
    admin_port: int = 7088
    rtp_port_range: str = "20000-40000"
    # The only addresses ICE gathers candidates on (empty: every interface but loopback).
    ice_enforce_list: str = ""
    name: str = "kuaichu-janus"
    debug_level: int = 4


def render(config: NodeConfig, folder: Path) -> dict[str, str]:
    """The files of the folder, by name."""
    nat = "ignore_mdns = true\n  nice_debug = false"
    if config.ice_enforce_list:
        nat += f'\n  ice_enforce_list = "{config.ice_enforce_list}"'
    plugins = ",".join(f"libjanus_{name}.so" for name in PLUGINS)
    transports = ",".join(f"libjanus_{name}.so" for name in TRANSPORTS)
    return {
        "janus.jcfg": f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{LIBRARIES / "plugins"}"
  transports_folder = "{LIBRARIES / "transports"}"
  events_folder = "{LIBRARIES / "events"}"
  loggers_folder = "{LIBRARIES / "loggers"}"
  server_name = "{config.name}"
  debug_level = {config.debug_level}
  # Every request carries the app's api_secret, or a token the app stored for one participant.
  api_secret = "{config.api_secret}"
  token_auth = true
  admin_secret = "{config.admin_secret}"
}}
media: {{
  rtp_port_range = "{config.rtp_port_range}"
}}
nat: {{
  {nat}
}}
plugins: {{
  disable = "{plugins}"
}}
transports: {{
  disable = "{transports}"
}}
events: {{
  broadcast = false
}}
loggers: {{
  disable = "libjanus_jsonlog.so"
}}
""",
        "janus.transport.http.jcfg": f"""general: {{
  base_path = "/janus"
  http = true
  ip = "{config.ip}"
  port = {config.api_port}
  https = false
}}
admin: {{
  admin_base_path = "/admin"
  admin_http = true
  admin_ip = "{config.ip}"
  admin_port = {config.admin_port}
  admin_https = false
}}
cors: {{
}}
""",
        # Only the holder of the admin key (the app) creates rooms or forwards their media.
        "janus.plugin.videoroom.jcfg": f"""general: {{
  admin_key = "{config.admin_secret}"
  lock_rtp_forward = true
}}
""",
    }


def write(config: NodeConfig, folder: Path) -> Path:
    """Write the folder; returns the path of janus.jcfg (janus -C)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in render(config, folder).items():
        path = folder / name
        path.write_text(content)
        path.chmod(0o600)  # it holds the secrets
    return folder / "janus.jcfg"
