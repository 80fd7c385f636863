// Shared by the officer's, the reviewer's and the supervisor's pages: finding a case by what a
// person knows of it (事故编号, a phone, a plate), and the case file: registry checks,
// eligibility, each party's acts and impact point, collection overrides, stills, recordings.
// Every word shown comes from the server's labels.
import { KC } from "./common.js";

export const BO = {
  // A search form whose results fill a table; `open` receives the case's id (never typed).
  wireSearch(page, { form, input, rows, open, guard = KC.guarded }) {
    document.getElementById(form).onsubmit = (event) => {
      event.preventDefault();
      guard(async () => {
        const q = document.getElementById(input).value;
        const found = await KC.api(page, "GET", `/api/cases/search?q=${encodeURIComponent(q)}`);
        BO.foundRows(rows, found, open);
      });
    };
  },

  foundRows(rowsId, found, open) {
    const rows = found.map((c) => KC.el("tr", {},
      KC.el("td", { textContent: c.number }),
      KC.el("td", { textContent: c.state_label }),
      KC.el("td", { textContent: c.parties.map((p) => `${p.designation} ${p.name} ${p.plate_number} ${p.phone}`).join("；") }),
      KC.el("td", { textContent: `${c.jurisdiction_name} · ${KC.time(c.reported_at)}` }),
      KC.el("td", {}, KC.el("button", {
        type: "button", className: "secondary", textContent: "打开", onclick: () => open(c.id),
      }))));
    if (!rows.length) {
      rows.push(KC.el("tr", {}, KC.el("td", { colSpan: 5, textContent: "未找到案件（只显示您有权查看的案件）" })));
    }
    const body = document.getElementById(rowsId);
    body.replaceChildren(...rows);
    body.closest("table").hidden = false;
  },

  items(id, lines) {
    document.getElementById(id).replaceChildren(...lines.map(([text, className]) =>
      KC.el("li", { textContent: text, className: className || "" })));
  },

  who(p) {
    return `${p.designation} ${p.name}（${p.plate_number}）`;
  },

  renderChecks(id, parties) {
    BO.items(id, parties.flatMap((p) => {
      if (!p.checks.length) return [[`${BO.who(p)}：尚未核验驾驶证、车辆、交强险`, "failed"]];
      return p.checks.map((c) => {
        const passed = c.outcome === "passed";
        const found = c.found.policy_number ? `（保单${c.found.policy_number}，${c.found.insurer_name}）` : "";
        const text = passed ? `通过${found}` : (c.failures.map((f) => f.reason).join("；") || "未能核验");
        return [`${BO.who(p)} ${c.kind_label}：${text}`, passed ? "passed" : "failed"];
      });
    }));
  },

  renderEligibility(id, eligibility) {
    const node = document.getElementById(id);
    if (eligibility.eligible === true) {
      node.textContent = "符合快处条件" + (eligibility.notes.length ? `（${eligibility.notes.join("；")}）` : "");
      node.className = "passed";
    } else if (eligibility.eligible === false) {
      node.textContent = "不符合快处条件：" + eligibility.reasons.map((r) => `${r.reason}（${r.basis}）`).join("；");
      node.className = "failed";
    } else {
      node.textContent = "尚未判定：" + eligibility.missing.join("；");
      node.className = "failed";
    }
  },

  renderActs(id, parties) {
    BO.items(id, parties.map((p) => {
      if (!p.acts_recorded) return [`${BO.who(p)}：坐席未记录其行为`, "failed"];
      const acts = p.acts.length ? p.acts.map((a) => a.label).join("、") : "无所列违法行为";
      return [`${BO.who(p)}：${acts}；碰撞部位：${p.impact_point || "未记录"}`];
    }));
  },

  // What the operator let through without (采集放行), with the written reason.
  renderOverrides(id, collection) {
    const lines = collection.overrides.map((o) => [
      `${KC.time(o.at)} 坐席 ${o.operator} 放行：${o.items.map((i) => i.message).join("；")}。理由：${o.reason}`,
      "failed",
    ]);
    // Missing now and never let through (a case that left the scene should have none).
    const overridden = new Set(collection.overrides.flatMap((o) => o.items.map((i) => i.key)));
    const open = collection.missing.filter((i) => !overridden.has(i.key));
    if (open.length) lines.push([`仍缺：${open.map((i) => i.message).join("；")}`, "failed"]);
    BO.items(id, lines.length ? lines : [["采集要求均已满足，无放行", "passed"]]);
  },

  renderDetermination(id, d) {
    if (!d) return BO.items(id, [["尚未作出认定"]]);
    const lines = [
      [`${KC.time(d.decided_at)} 办案民警 ${d.officer}（${d.status_label}）`],
      ...d.shares.map((s) => [`${s.designation} ${s.name}：${s.responsibility_label}`]),
      [`认定理由：${d.reasoning || "（未填写）"}`],
      [`适用规则：${d.rule_label ? `${d.rule_label}（${d.rule_basis}）` : "无适用的规则建议"}；${d.proposal_accepted_label}`],
    ];
    if (d.override_reason) lines.push([`不采纳规则建议的理由：${d.override_reason}`, "failed"]);
    BO.items(id, lines);
  },

  // The stills with their captions (当事人2 号牌); recordings are played elsewhere.
  async renderStills(page, caseId, id, items) {
    const figures = await Promise.all(items.filter((i) => i.media_type.startsWith("image/")).map(async (item) =>
      KC.el("figure", {},
        KC.el("img", { src: await KC.evidenceUrl(page, caseId, item.id), alt: item.kind_label }),
        KC.el("figcaption", { textContent: `${item.kind_label} · ${KC.time(item.uploaded_at)}` }))));
    document.getElementById(id).replaceChildren(...(figures.length ? figures : [KC.el("p", { className: "hint", textContent: "无照片" })]));
  },

  // The call recording is a series of complete WebM chunks: played one after another.
  recording(page, caseId, videoId, infoId, items) {
    const chunks = items.filter((i) => i.kind === "recording");
    const video = document.getElementById(videoId);
    let playing = 0;
    const load = async () => {
      if (chunks[playing]) video.src = await KC.evidenceUrl(page, caseId, chunks[playing].id);
    };
    video.onended = () => {
      playing += 1;
      KC.guarded(async () => {
        await load();
        if (playing < chunks.length) await video.play();
      });
    };
    KC.text(infoId, chunks.length ? `共 ${chunks.length} 段录像，连续播放` : "无通话录像");
    video.hidden = !chunks.length;
    return load();
  },
};
