// Shared by the pages (an ES module each imports): the words (the catalogue), the API with its
// bearer token, the page WebSocket, small helpers, and the call's WebRTC link.

export const KC = {
  SOCKET_PING_MS: 4000,
  SOCKET_SILENCE_MS: 10000,

  // The catalogue (GET /api/messages/{locale}): every word a page shows, by stable key.
  LOCALES: ["zh-CN", "en"],
  DEFAULT_LOCALE: "zh-CN",
  locale: "zh-CN",
  words: {},
  catalogues: {},

  // The text of `key`, its {placeholders} filled from `params`; the key itself if it is missing
  // (a test keeps the catalogue complete, so a key on screen is a bug to see, not to hide).
  t(key, params = {}) {
    const template = Object.hasOwn(KC.words, key) ? KC.words[key] : key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  },

  // Whether `text` is the catalogue's `key` said with any values: how a page recognises a
  // refusal it places by its field, in any language.
  says(key, text) {
    const parts = KC.t(key).split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${parts.join(".*")}$`, "s").test(text || "");
  },

  // The label of a stable code (a state, an event kind, a grade...): `<Enum>.<code>`.
  label(prefix, code) {
    return KC.t(`${prefix}.${code}`);
  },

  // The shipped locale for a list of language tags, by the rule of messages.negotiate: the
  // first tag whose language ships wins (any Chinese reads zh-CN); nothing fits: zh-CN.
  negotiate(tags) {
    for (const tag of tags || []) {
      const language = String(tag).split("-")[0].toLowerCase();
      const shipped = KC.LOCALES.find((locale) => locale.split("-")[0] === language);
      if (shipped) return shipped;
    }
    return KC.DEFAULT_LOCALE;
  },

  // A page whose reader chooses (the party's): the saved choice, else the browser's languages.
  chosenLocale(page) {
    const saved = localStorage.getItem(`kuaichu.${page}.locale`);
    if (KC.LOCALES.includes(saved)) return saved;
    return KC.negotiate(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  },

  async catalogue(locale) {
    if (!KC.catalogues[locale]) {
      const response = await fetch(`/api/messages/${encodeURIComponent(locale)}`);
      if (!response.ok) throw new Error(`catalogue ${locale}: ${response.status}`);
      KC.catalogues[locale] = await response.json();
    }
    return KC.catalogues[locale];
  },

  // Fetch the catalogue once per locale (the server's ETag revalidates it), say the language
  // in <html lang>, and fill the page's static text from its data-i18n attributes.
  async useLocale(locale) {
    KC.words = await KC.catalogue(locale);
    KC.locale = locale;
    document.documentElement.lang = locale;
    KC.translate(document);
  },

  // data-i18n="Key" fills the text; data-i18n-placeholder and data-i18n-aria-label the attributes.
  translate(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = KC.t(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = KC.t(node.dataset.i18nPlaceholder);
    }
    for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", KC.t(node.dataset.i18nAriaLabel));
    }
  },

  tokenKey: (page) => `kuaichu.${page}.token`,

  token(page) {
    return sessionStorage.getItem(KC.tokenKey(page));
  },

  setToken(page, token, refreshToken) {
    if (token) sessionStorage.setItem(KC.tokenKey(page), token);
    else sessionStorage.removeItem(KC.tokenKey(page));
    // Staff logins: the access token lasts minutes; the refresh token (single use) gets the next.
    if (refreshToken) sessionStorage.setItem(`${KC.tokenKey(page)}.refresh`, refreshToken);
    else if (!token || refreshToken === null) sessionStorage.removeItem(`${KC.tokenKey(page)}.refresh`);
  },

  // One refresh at a time per page; resolves true when a new access token was stored.
  refreshing: {},
  refresh(page) {
    const refreshToken = sessionStorage.getItem(`${KC.tokenKey(page)}.refresh`);
    if (!refreshToken) return Promise.resolve(false);
    if (!KC.refreshing[page]) {
      KC.refreshing[page] = fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      }).then(async (response) => {
        if (!response.ok) {
          KC.setToken(page, null);
          return false;
        }
        const data = await response.json();
        KC.setToken(page, data.access_token, data.refresh_token);
        return true;
      }).catch(() => false).finally(() => { delete KC.refreshing[page]; });
    }
    return KC.refreshing[page];
  },

  // fetch with the page's token; problem+json errors become an Error carrying the detail.
  // A staff token that lapsed (401) is refreshed once and the request sent again.
  async api(page, method, path, body, retried = false) {
    // Refusals come back in the page's own language (its <html lang>), not the browser's.
    const headers = { "Accept-Language": document.documentElement.lang || "zh-CN" };
    const token = KC.token(page);
    if (token) headers.Authorization = `Bearer ${token}`;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload });
    } catch {
      // fetch rejects only when no answer came back at all (offline, server unreachable).
      throw new Error(KC.t("Common.network_failed"));
    }
    if (response.status === 401 && !retried && !path.startsWith("/api/auth/") && (await KC.refresh(page))) {
      return KC.api(page, method, path, body, true);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : await response.blob();
    if (!response.ok) {
      const error = new Error((data && data.detail) || KC.t("Common.request_failed", { status: response.status }));
      error.status = response.status;
      // problem+json: the page may place `errors` (422) or `missing` (409) next to their fields.
      error.problem = type.includes("json") ? data : null;
      throw error;
    }
    return data;
  },

  // The page's one WebSocket; reconnects by itself and calls onOpen again each time, so the
  // page re-sends what it watches and joins.
  socket(page, { onOpen, onMessage, onState }) {
    const socket = { ws: null, closedByPage: false, retries: 0 };
    socket.send = (message) => {
      if (socket.ws && socket.ws.readyState === WebSocket.OPEN) {
        socket.ws.send(JSON.stringify(message));
        return true;
      }
      return false;
    };
    socket.connect = async () => {
      clearTimeout(socket.timer);
      socket.timer = null;
      if (socket.connecting) return;
      // A one-time ticket opens the connection: the login token never goes into a URL.
      socket.connecting = true;
      let ticket;
      try {
        ticket = (await KC.api(page, "POST", "/api/auth/ws-ticket")).ticket;
      } catch (error) {
        if (onState) onState("closed");
        if (!socket.closedByPage && error.status !== 401) {
          const delay = Math.min(250 * 2 ** socket.retries, 5000);
          socket.retries += 1;
          socket.timer = setTimeout(socket.connect, delay);
        }
        return;
      } finally {
        socket.connecting = false;
      }
      if (socket.closedByPage) return;
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      // The socket speaks the page's language (its error frames, the labels it pushes).
      const query = `ticket=${encodeURIComponent(ticket)}&locale=${encodeURIComponent(KC.locale)}`;
      const ws = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
      socket.ws = ws;
      socket.heard = Date.now();
      ws.onopen = () => {
        socket.retries = 0;
        socket.heard = Date.now();
        if (onState) onState("open");
        if (onOpen) onOpen();
      };
      ws.onmessage = (event) => {
        socket.heard = Date.now();
        const message = JSON.parse(event.data);
        // The call's ICE servers (TURN credentials are time-limited) come with each connection.
        if (message.type === "hello" && message.ice_servers) KC.iceServers = message.ice_servers;
        if (message.type !== "pong") onMessage(message);
      };
      ws.onclose = (event) => {
        if (socket.ws !== ws) return; // an abandoned (silent) connection closing late
        if (onState) onState("closed");
        if (socket.closedByPage || event.code === 4401) return;
        // Back off a little, up to 5 s, so a server restart isn't hammered.
        const delay = Math.min(250 * 2 ** socket.retries, 5000);
        socket.retries += 1;
        socket.timer = setTimeout(socket.connect, delay);
      };
    };
    // A connection that went silent (a phone that lost its network keeps a dead TCP connection
    // open for minutes) is given up and replaced: the page pings, the server answers.
    socket.beat = setInterval(() => {
      const ws = socket.ws;
      if (socket.closedByPage || !ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - socket.heard > KC.SOCKET_SILENCE_MS) {
        socket.ws = null;
        ws.close();
        if (onState) onState("closed");
        socket.connect();
        return;
      }
      ws.send(JSON.stringify({ type: "ping", t: Date.now() }));
    }, KC.SOCKET_PING_MS);
    // Back online: reconnect now rather than at the end of the back-off.
    socket.online = () => {
      if (socket.closedByPage) return;
      if (!socket.connecting && (!socket.ws || socket.ws.readyState === WebSocket.CLOSED)) socket.connect();
    };
    window.addEventListener("online", socket.online);
    socket.reconnect = () => {
      const ws = socket.ws;
      socket.ws = null;
      if (ws) ws.close();
      socket.connect();
    };
    socket.close = () => {
      socket.closedByPage = true;
      clearInterval(socket.beat);
      clearTimeout(socket.timer);
      window.removeEventListener("online", socket.online);
      if (socket.ws) socket.ws.close();
    };
    socket.connect();
    return socket;
  },

  duration(seconds) {
    if (seconds == null) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return KC.t("Common.seconds", { s });
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? KC.t("Common.minutes_seconds", { m, s: s % 60 }) : KC.t("Common.minutes", { m });
    return KC.t("Common.hours_minutes", { h: Math.floor(m / 60), m: m % 60 });
  },

  time(iso) {
    return new Date(iso).toLocaleString(KC.locale === "en" ? "en-GB" : "zh-CN", {
      timeZone: "Asia/Shanghai", hour12: false,
    });
  },

  $(selector) {
    return document.querySelector(selector);
  },

  // Every page has one message line (role=alert) and shows one of its views at a time.
  say(text) {
    const node = document.getElementById("message");
    node.textContent = text || "";
    node.hidden = !text;
  },

  view(views, id) {
    for (const name of views) KC.show(name, name === id);
  },

  // Runs a user's action; what goes wrong is said on the page, not lost in the console.
  async guarded(action, onError) {
    KC.say("");
    try {
      await action();
    } catch (error) {
      if (onError && onError(error)) return;
      KC.say(KC.readable(error));
    }
  },

  // What a person reads about an error: the server's detail or the page's own sentence (plain
  // Errors, said in the page's language), or a plain sentence for the browser's own messages
  // (TypeError, DOMException...), which go to the developer console instead.
  readable(error) {
    const message = (error && error.message) || "";
    if (error && error.constructor === Error && message) return message;
    console.error(error);
    if (error instanceof TypeError && /fetch|network/i.test(message)) return KC.t("Common.network_failed");
    return KC.t("Common.action_failed");
  },

  // A page opens where its user left it when the saved login still holds, else at the login.
  async resume(page, enter, showLogin) {
    if (!KC.token(page)) return showLogin();
    try {
      await enter();
    } catch (error) {
      if (error.status !== 401) throw error;
      KC.setToken(page, null);
      showLogin();
    }
  },

  // The staff pages' table of cases waiting for them, oldest first, with their age.
  caseRows(cases, actionLabel, onOpen, emptyText) {
    const rows = cases.map((c) => KC.el("tr", {},
      KC.el("td", { textContent: c.number }),
      KC.el("td", { textContent: KC.time(c.reported_at) }),
      KC.el("td", { textContent: KC.duration(c.waiting_seconds) }),
      KC.el("td", {}, KC.el("button", {
        type: "button", className: "secondary", textContent: actionLabel, onclick: () => onOpen(c.id),
      }))));
    if (!rows.length) rows.push(KC.el("tr", {}, KC.el("td", { colSpan: 4, textContent: emptyText })));
    document.getElementById("case-rows").replaceChildren(...rows);
  },

  // Staff pages: username and password, and the role the page is for.
  async staffLogin(page, role) {
    const result = await KC.api(page, "POST", "/api/auth/staff", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    });
    const roles = Array.isArray(role) ? role : [role];
    if (!roles.includes(result.role)) {
      throw new Error(KC.t("Common.wrong_role", { role: roles.map((r) => KC.label("Role", r)).join(" / ") }));
    }
    KC.setToken(page, result.access_token, result.refresh_token);
    return result;
  },

  // A button that sends a request: busy (disabled, marked) while it runs, so a second tap
  // does nothing; what goes wrong is said on the page. Returns the guarded promise.
  async busy(button, action, onError) {
    if (!button || button.dataset.busy) return;
    button.dataset.busy = "1";
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await KC.guarded(action, onError);
    } finally {
      delete button.dataset.busy;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  },

  // Wires a button (by id) to an action with the busy state; `confirm` asks first.
  action(id, action, { confirm } = {}) {
    const button = document.getElementById(id);
    button.onclick = async (event) => {
      if (button.dataset.busy) return;
      if (confirm && !(await KC.confirm(confirm))) return;
      await KC.busy(button, () => action(event));
    };
  },

  // The same for a form: its submit button shows the busy state.
  submit(id, action) {
    const form = document.getElementById(id);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"], button:not([type])');
      if (button && button.dataset.busy) return;
      await KC.busy(button, () => action(event));
    };
  },

  // A question a person answers before something that cannot be undone (cancelling a report).
  confirm(text, { yes = KC.t("Common.confirm_yes"), no = KC.t("Common.confirm_no") } = {}) {
    let dialog = document.getElementById("confirm-dialog");
    if (!dialog) {
      dialog = KC.el("dialog", { id: "confirm-dialog", className: "dialog" },
        KC.el("p", { id: "confirm-text" }),
        KC.el("div", { className: "row" },
          KC.el("button", { id: "confirm-yes", type: "button", className: "danger" }),
          KC.el("button", { id: "confirm-no", type: "button", className: "secondary" })));
      document.body.append(dialog);
    }
    KC.text("confirm-text", text);
    KC.text("confirm-yes", yes);
    KC.text("confirm-no", no);
    return new Promise((resolve) => {
      const done = (answer) => {
        dialog.close();
        resolve(answer);
      };
      document.getElementById("confirm-yes").onclick = () => done(true);
      document.getElementById("confirm-no").onclick = () => done(false);
      dialog.oncancel = () => resolve(false);
      dialog.showModal();
    });
  },

  // Warnings that stay (camera, microphone, location, network): one banner per key in the
  // page's banner area, apart from the message line, until the page takes it down itself.
  banner(key, text, buttons = []) {
    let area = document.getElementById("banners");
    if (!area) {
      area = KC.el("div", { id: "banners", className: "banners" });
      document.getElementById("message").before(area);
    }
    let node = area.querySelector(`[data-banner="${key}"]`);
    if (!node) {
      node = KC.el("div", { className: "banner", role: "status" });
      node.dataset.banner = key;
      area.append(node);
    }
    node.replaceChildren(KC.el("span", { textContent: text }), ...buttons.map(([label, onclick]) =>
      KC.el("button", { type: "button", className: "secondary", textContent: label, onclick })));
  },

  unbanner(key) {
    const node = document.querySelector(`#banners [data-banner="${key}"]`);
    if (node) node.remove();
  },

  show(id, visible = true) {
    document.getElementById(id).hidden = !visible;
  },

  text(id, value) {
    document.getElementById(id).textContent = value;
  },

  el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const child of children) node.append(child);
    return node;
  },

  // Evidence files need the bearer token, so they are fetched and shown as object URLs.
  async evidenceUrl(page, caseId, itemId) {
    const blob = await KC.api(page, "GET", `/api/cases/${caseId}/evidence/${itemId}/content`);
    return URL.createObjectURL(blob);
  },
};

// The shots the operator needs (both vehicles in one picture, each vehicle, collision points,
// plates), with their labels in the page's language (read when drawn: the language may change).
export const SHOT_KINDS = ["side_by_side", "vehicle_overview", "collision_point", "plate"];
export const shots = () => SHOT_KINDS.map((kind) => [kind, KC.label("EvidenceKind", kind)]);

// WebRTC for both ends. The operator always makes the offer; each offer has a generation
// number, so a late answer or candidate of an abandoned attempt is ignored.
//
// Calls heal: when the connection goes `disconnected` (for a moment) or `failed`, the operator's
// side restarts ICE on the same connection (an offer with iceRestart, same generation); if that
// has not reconnected within a few seconds, it makes a fresh offer on a new connection, and
// keeps trying while the call lasts. The party's side asks the operator's to heal ("heal").
// onState receives the connection's states and "reconnecting".
export class CallLink {
  constructor({ iceServers, iceTransportPolicy, send, onTrack, onState, offerer = false }) {
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy || "all";
    this.send = send;
    this.onTrack = onTrack;
    this.onState = onState;
    this.offerer = offerer;
    this.pc = null;
    this.generation = 0;
    this.localStream = null;
    this.healing = null;
    this.closed = false;
  }

  static RESTART_AFTER_DISCONNECT_MS = 2000;
  static RESTART_WAIT_MS = 4000;
  static FRESH_OFFER_WAIT_MS = 6000;

  get connected() {
    return Boolean(this.pc) && this.pc.connectionState === "connected";
  }

  _newConnection(generation) {
    if (this.pc) this.pc.close();
    const iceServers = KC.iceServers || this.iceServers;
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: this.iceTransportPolicy });
    this.pc = pc;
    this.generation = generation;
    window.kuaichuPeer = pc; // for diagnostics (and the browser tests read getStats from it)
    if (this.localStream) {
      for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    }
    pc.onicecandidate = (event) => {
      if (event.candidate) this.send({ kind: "candidate", generation, candidate: event.candidate.toJSON() });
    };
    pc.ontrack = (event) => this.onTrack(event.streams[0] || new MediaStream([event.track]));
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.connectionState;
      clearTimeout(this.disconnectTimer);
      if (state === "connected") {
        this.healing = null;
        this.onState("connected");
      } else if (state === "failed") {
        this.lost();
      } else if (state === "disconnected") {
        // Often a blip that ICE rides out; restart only if it lasts.
        this.onState("disconnected");
        this.disconnectTimer = setTimeout(() => this.lost(), CallLink.RESTART_AFTER_DISCONNECT_MS);
      } else if (!this.healing) {
        this.onState(state);
      }
    };
    return pc;
  }

  // The link is lost: the operator's side heals; the party's side asks it to.
  lost() {
    if (this.closed || this.connected) return;
    this.onState("reconnecting");
    if (this.offerer) this.heal();
    else this.send({ kind: "heal" });
  }

  // Operator's side: ICE restart first, then fresh offers until connected or closed.
  heal({ fresh = false } = {}) {
    if (this.closed || this.healing) return this.healing;
    this.onState("reconnecting");
    const run = async () => {
      let attempt = fresh ? 1 : 0;
      while (!this.closed && !this.connected) {
        try {
          if (attempt === 0 && this.pc && this.pc.signalingState !== "closed") await this.restartIce();
          else await this.offer();
        } catch (error) {
          console.warn("reconnect attempt failed", error);
        }
        const wait = attempt === 0 ? CallLink.RESTART_WAIT_MS : CallLink.FRESH_OFFER_WAIT_MS;
        await this._connectedWithin(wait);
        attempt += 1;
      }
      this.healing = null;
    };
    this.healing = run();
    return this.healing;
  }

  _connectedWithin(ms) {
    return new Promise((resolve) => {
      const started = Date.now();
      const check = () => {
        if (this.closed || this.connected || Date.now() - started >= ms) resolve(this.connected);
        else setTimeout(check, 200);
      };
      check();
    });
  }

  async restartIce() {
    const pc = this.pc;
    pc.restartIce();
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    this.send({ kind: "offer", generation: this.generation, restart: true, sdp: pc.localDescription.toJSON() });
  }

  async offer() {
    const pc = this._newConnection(this.generation + 1);
    // Receive video even when sending none (the console may have no camera).
    if (!this.localStream || this.localStream.getVideoTracks().length === 0) {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    if (!this.localStream || this.localStream.getAudioTracks().length === 0) {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ kind: "offer", generation: this.generation, sdp: pc.localDescription.toJSON() });
  }

  async handle(data) {
    if (data.kind === "offer") {
      // An ICE restart of the current connection keeps it; any other offer starts a new one.
      const same = data.restart && this.pc && data.generation === this.generation && this.pc.signalingState !== "closed";
      const pc = same ? this.pc : this._newConnection(data.generation);
      await pc.setRemoteDescription(data.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ kind: "answer", generation: data.generation, sdp: pc.localDescription.toJSON() });
    } else if (data.kind === "answer" && this.pc && data.generation === this.generation) {
      if (this.pc.signalingState === "have-local-offer") await this.pc.setRemoteDescription(data.sdp);
    } else if (data.kind === "candidate" && this.pc && data.generation === this.generation) {
      try {
        await this.pc.addIceCandidate(data.candidate);
      } catch (error) {
        console.warn("ICE candidate refused", error);
      }
    } else if (data.kind === "heal" && this.offerer) {
      if (!this.connected) this.heal();
    }
  }

  // Reconnecting by hand: a fresh offer now (operator), or a request for one (party).
  reconnect() {
    this.healing = null;
    if (this.offerer) return this.heal({ fresh: true });
    this.onState("reconnecting");
    this.send({ kind: "here" });
    return null;
  }

  // How the link is doing, from getStats every few seconds: `onWeak(true)` after two poor
  // samples in a row (loss over 8 %, round trip over 600 ms or under 150 kbit/s available to
  // send), `onWeak(false)` once it is good again.
  watchQuality(onWeak, everyMs = 3000) {
    let last = null;
    let poor = 0;
    this.stopQuality();
    this.qualityTimer = setInterval(async () => {
      if (!this.pc || !this.connected) return;
      const stats = await this.pc.getStats();
      let lost = 0, received = 0, rtt = null, outgoing = null;
      stats.forEach((r) => {
        if (r.type === "inbound-rtp") {
          lost += r.packetsLost || 0;
          received += r.packetsReceived || 0;
        } else if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
          if (r.currentRoundTripTime != null) rtt = r.currentRoundTripTime;
          if (r.availableOutgoingBitrate != null) outgoing = r.availableOutgoingBitrate;
        }
      });
      const sample = { lost, received };
      let loss = 0;
      if (last) {
        const got = sample.received - last.received;
        const gone = sample.lost - last.lost;
        loss = got + gone > 0 ? gone / (got + gone) : 0;
      }
      last = sample;
      const weak = loss > 0.08 || (rtt != null && rtt > 0.6) || (outgoing != null && outgoing < 150000);
      poor = weak ? poor + 1 : 0;
      this.quality = { loss, rtt, outgoing, weak: poor >= 2 };
      onWeak(poor >= 2, this.quality);
    }, everyMs);
  }

  stopQuality() {
    clearInterval(this.qualityTimer);
  }

  async replaceVideo(track) {
    if (!this.pc) return;
    const video = this.pc.getTransceivers().find((t) => t.receiver.track.kind === "video");
    if (video) await video.sender.replaceTrack(track);
  }

  close() {
    this.closed = true;
    this.stopQuality();
    clearTimeout(this.disconnectTimer);
    if (this.pc) this.pc.close();
    this.pc = null;
  }
}
