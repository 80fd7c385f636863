from pydantic import BaseModel


class MediaPassOut(BaseModel):
    """What a page needs to join its call's room on the media server, for this participant
    alone: the token opens a Janus session and the room (and is valid for this call only)."""

    server: str
    room: int
    pin: str
    token: str
    # The id to join (and publish) under: it names this participant's recording.
    feed_id: int
    # False for a seat that watches (a supervisor): it subscribes and publishes nothing.
    publish: bool
    display: str
    ice_servers: list[dict[str, str | list[str]]]
