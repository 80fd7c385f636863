// The officer's workbench (民警): cases awaiting determination, evidence, recording, decision.
"use strict";

const PAGE = "workbench";
const VIEWS = ["login-view", "list-view", "case-view"];
const KIND_LABELS = Object.fromEntries([...SHOTS, ["recording", "通话录像"], ["other", "其他"]]);
const bench = { config: null, caseId: null, chunks: [], playing: 0, proposal: null };

const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "officer", "办案民警");
  await list();
}

async function list() {
  view("list-view");
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  KC.text("me-name", me.name);
  // Staff lists come oldest first: the longest-waiting case on top.
  const cases = await KC.api(PAGE, "GET", "/api/cases?state=evacuated");
  KC.caseRows(cases, "办理", (id) => guarded(() => open(id)), "暂无待定责案件");
}

async function open(caseId) {
  bench.caseId = caseId;
  view("case-view");
  const [detail, items] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${caseId}`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/evidence`),
  ]);
  KC.text("case-number", detail.number);
  const facts = [
    ["辖区", detail.jurisdiction_name], ["发生时间", detail.occurred_at ? KC.time(detail.occurred_at) : "—"],
    ["地点", detail.address || "—"], ["事故类型", detail.accident_type || "—"],
    ["天气", detail.weather || "—"], ["经过", detail.description || "—"],
    ...detail.parties.map((p) => [`当事人${p.position}`, `${p.name} · ${p.plate_number} · ${p.vehicle_type}`]),
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]),
  );
  const gallery = document.getElementById("gallery");
  gallery.replaceChildren();
  for (const item of items.filter((i) => i.kind !== "recording")) {
    const url = await KC.evidenceUrl(PAGE, caseId, item.id);
    gallery.append(KC.el("figure", {},
      KC.el("img", { src: url, alt: KIND_LABELS[item.kind] || item.kind }),
      KC.el("figcaption", { textContent: `${KIND_LABELS[item.kind] || item.kind} · ${KC.time(item.uploaded_at)}` })));
  }
  bench.chunks = items.filter((i) => i.kind === "recording");
  bench.playing = 0;
  KC.text("recording-info", bench.chunks.length ? `共 ${bench.chunks.length} 段录像，连续播放` : "无通话录像");
  await playChunk();
  renderShares(detail.parties);
  await showProposal();
}

// The rules engine's proposal (art. 60 and the quick-handling list): pre-filled, and any
// departure from it needs the officer's written reason.
async function showProposal() {
  const proposal = await KC.api(PAGE, "GET", `/api/cases/${bench.caseId}/liability-proposal`);
  bench.proposal = proposal.rule ? proposal : null;
  KC.text("proposal", proposal.rule ? `规则建议：${proposal.label}（${proposal.basis}）` : proposal.message);
  for (const share of proposal.shares) {
    const select = document.querySelector(`#shares select[data-party-id="${share.party_id}"]`);
    if (select) select.value = share.responsibility;
  }
  updateOverride();
}

function chosenShares() {
  return [...document.querySelectorAll("#shares select")].map((s) => ({
    party_id: Number(s.dataset.partyId), responsibility: s.value,
  }));
}

function departsFromProposal() {
  if (!bench.proposal) return false;
  const proposed = Object.fromEntries(bench.proposal.shares.map((s) => [s.party_id, s.responsibility]));
  return chosenShares().some((s) => proposed[s.party_id] !== s.responsibility);
}

function updateOverride() {
  KC.show("override-label", departsFromProposal());
}

// The recording is a series of complete WebM chunks: play them one after another.
async function playChunk() {
  const video = document.getElementById("recording");
  const chunk = bench.chunks[bench.playing];
  if (!chunk) return;
  video.src = await KC.evidenceUrl(PAGE, bench.caseId, chunk.id);
}

function renderShares(parties) {
  const grades = bench.config.catalogues.responsibilities;
  document.getElementById("shares").replaceChildren(...parties.map((p) => {
    const select = KC.el("select", { name: `share-${p.id}` });
    select.replaceChildren(...Object.entries(grades).map(([value, label]) => KC.el("option", { value, textContent: label })));
    select.dataset.partyId = p.id;
    select.onchange = updateOverride;
    return KC.el("label", { textContent: `${p.name}（${p.plate_number}） ` }, select);
  }));
}

async function determine(event) {
  event.preventDefault();
  const override = document.getElementById("override-reason").value.trim();
  await KC.api(PAGE, "POST", `/api/cases/${bench.caseId}/determination`, {
    shares: chosenShares(),
    reasoning: document.getElementById("reasoning").value,
    override_reason: departsFromProposal() ? override : null,
  });
  say("已作出事故认定，认定书将送达当事人");
  await list();
}

async function start() {
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  document.getElementById("determination-form").onsubmit = (event) => guarded(() => determine(event));
  document.getElementById("back").onclick = () => guarded(list);
  document.getElementById("recording").onended = () => {
    bench.playing += 1;
    guarded(async () => {
      await playChunk();
      if (bench.playing < bench.chunks.length) await document.getElementById("recording").play();
    });
  };
  bench.config = await KC.api(PAGE, "GET", "/api/calls/config");
  await KC.resume(PAGE, list, () => view("login-view"));
}

guarded(start);
