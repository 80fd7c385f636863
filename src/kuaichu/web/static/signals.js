// Fraud and quality signals (kuaichu.signals) on the officer's and the supervisor's pages: the
// cases with signals, filtered by signal, and one case's signals with their reasons. A signal
// never decides; the words come from the server (reasons, labels) or the catalogue (KC.t).
import { KC } from "./common.js";

export const SIG = {
  // Fill the filter with the signals there are, then list; `open` receives a case's id.
  async wirePanel(page, open, guard = KC.guarded) {
    const filter = document.getElementById("signal-filter");
    const chosen = filter.value;
    const rules = await KC.api(page, "GET", "/api/signals/rules");
    filter.replaceChildren(
      KC.el("option", { value: "", textContent: KC.t("Signals.all") }),
      ...rules.map((r) => KC.el("option", { value: r.name, textContent: r.label })),
    );
    filter.value = chosen;
    filter.onchange = () => guard(() => SIG.list(page, open));
    await SIG.list(page, open);
  },

  async list(page, open) {
    const signal = document.getElementById("signal-filter").value;
    const query = signal ? `?signal=${encodeURIComponent(signal)}` : "";
    const cases = await KC.api(page, "GET", `/api/signals/cases${query}`);
    const rows = cases.map((c) => KC.el("tr", {},
      KC.el("td", { textContent: c.number }),
      KC.el("td", { textContent: c.state_label }),
      KC.el("td", {}, SIG.items(c.signals)),
      KC.el("td", {}, KC.el("button", {
        type: "button", className: "secondary", textContent: KC.t("Staff.open"), onclick: () => open(c.id),
      }))));
    if (!rows.length) rows.push(KC.el("tr", {}, KC.el("td", { colSpan: 4, textContent: KC.t("Signals.none") })));
    document.getElementById("signal-rows").replaceChildren(...rows);
  },

  items(signals) {
    return KC.el("ul", { className: "list" }, ...signals.map((s) =>
      KC.el("li", { className: "failed", textContent: KC.t("Signals.line", { label: s.label, reason: s.reason }) })));
  },

  // One case's signals, in the list with id `id`.
  async renderCase(page, caseId, id) {
    const signals = await KC.api(page, "GET", `/api/cases/${caseId}/signals`);
    const list = document.getElementById(id);
    if (signals.length) list.replaceChildren(...SIG.items(signals).children);
    else list.replaceChildren(KC.el("li", { className: "passed", textContent: KC.t("Signals.case_none") }));
  },
};
