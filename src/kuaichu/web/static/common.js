// Shared by the pages: the API with its bearer token, the page WebSocket, small helpers.
"use strict";

const KC = {
  NETWORK_FAILED: "网络连接失败，请检查网络后重试",

  tokenKey: (page) => `kuaichu.${page}.token`,

  token(page) {
    return sessionStorage.getItem(KC.tokenKey(page));
  },

  setToken(page, token) {
    if (token) sessionStorage.setItem(KC.tokenKey(page), token);
    else sessionStorage.removeItem(KC.tokenKey(page));
  },

  // fetch with the page's token; problem+json errors become an Error carrying the detail.
  async api(page, method, path, body) {
    const headers = {};
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
      throw new Error(KC.NETWORK_FAILED);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : await response.blob();
    if (!response.ok) {
      const error = new Error((data && data.detail) || `请求失败（${response.status}）`);
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
    socket.connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(KC.token(page))}`);
      socket.ws = ws;
      ws.onopen = () => {
        socket.retries = 0;
        if (onState) onState("open");
        if (onOpen) onOpen();
      };
      ws.onmessage = (event) => onMessage(JSON.parse(event.data));
      ws.onclose = (event) => {
        if (onState) onState("closed");
        if (socket.closedByPage || event.code === 4401) return;
        // Back off a little, up to 5 s, so a server restart isn't hammered.
        const delay = Math.min(250 * 2 ** socket.retries, 5000);
        socket.retries += 1;
        setTimeout(socket.connect, delay);
      };
    };
    socket.close = () => {
      socket.closedByPage = true;
      if (socket.ws) socket.ws.close();
    };
    socket.connect();
    return socket;
  },

  duration(seconds) {
    if (seconds == null) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}秒`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}分${s % 60 ? `${s % 60}秒` : ""}`;
    return `${Math.floor(m / 60)}小时${m % 60}分`;
  },

  time(iso) {
    return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
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

  // What a person reads about an error: the server's Chinese detail, or a plain sentence for
  // the browser's own (English) messages, which go to the developer console instead.
  readable(error) {
    const message = (error && error.message) || "";
    if (/[\u4e00-\u9fff]/.test(message)) return message;
    console.error(error);
    if (error instanceof TypeError && /fetch|network/i.test(message)) return KC.NETWORK_FAILED;
    return "操作未完成，请刷新页面后重试";
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
  async staffLogin(page, role, roleName) {
    const result = await KC.api(page, "POST", "/api/auth/staff", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    });
    if (!(Array.isArray(role) ? role : [role]).includes(result.role)) throw new Error(`该账号不是${roleName}`);
    KC.setToken(page, result.access_token);
    return result;
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

// The shots the operator needs (并排同框, each vehicle, collision points, plates).
const SHOTS = [
  ["side_by_side", "两车并排同框"],
  ["vehicle_overview", "车辆全貌"],
  ["collision_point", "碰撞部位"],
  ["plate", "号牌"],
];

// WebRTC for both ends. The operator always makes the offer; each offer has a generation
// number, so a late answer or candidate of an abandoned attempt is ignored.
class CallLink {
  constructor({ iceServers, send, onTrack, onState }) {
    this.iceServers = iceServers;
    this.send = send;
    this.onTrack = onTrack;
    this.onState = onState;
    this.pc = null;
    this.generation = 0;
    this.localStream = null;
  }

  _newConnection(generation) {
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
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
    pc.onconnectionstatechange = () => this.onState(pc.connectionState);
    return pc;
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
      const pc = this._newConnection(data.generation);
      await pc.setRemoteDescription(data.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ kind: "answer", generation: data.generation, sdp: pc.localDescription.toJSON() });
    } else if (data.kind === "answer" && this.pc && data.generation === this.generation) {
      await this.pc.setRemoteDescription(data.sdp);
    } else if (data.kind === "candidate" && this.pc && data.generation === this.generation) {
      try {
        await this.pc.addIceCandidate(data.candidate);
      } catch (error) {
        console.warn("ICE candidate refused", error);
      }
    }
  }

  async replaceVideo(track) {
    if (!this.pc) return;
    const video = this.pc.getTransceivers().find((t) => t.receiver.track.kind === "video");
    if (video) await video.sender.replaceTrack(track);
  }

  close() {
    if (this.pc) this.pc.close();
    this.pc = null;
  }
}
