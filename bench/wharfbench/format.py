"""Numbers and tables of the report: `fmt`, the Wharf advantage `adv`, and a scenario `Table`."""

from __future__ import annotations


def fmt(v, unit="", digits=None) -> str:
    """A number with thousands separators and 0–3 decimals by size; "—" for none."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if digits is None:
        a = abs(v)
        digits = 0 if a >= 100 else (1 if a >= 10 else (2 if a >= 1 else 3))
    return f"{v:,.{digits}f}{(' ' + unit) if unit else ''}"


def fmt_runs(xs, digits=None) -> str:
    """Each run's figure, comma-separated."""
    return ", ".join(fmt(x, digits=digits) for x in xs)


def adv(w, d, higher_better=True):
    """Wharf ÷ Distribution for rates, Distribution ÷ Wharf for times and sizes (None if either is missing)."""
    if not w or not d:
        return None
    return w / d if higher_better else d / w


def share(v, of):
    """v as a percentage of `of`, or None."""
    return v / of * 100 if v and of else None


def met(ok) -> str:
    return "—" if ok is None else ("✅ yes" if ok else "❌ no")


def versus(target: str, w, d, at_least: float, higher_better=True, detail: str = ""):
    """A target on the Wharf advantage: (target, "N× (detail)", met), or None without both figures."""
    a = adv(w, d, higher_better)
    if a is None:
        return None
    return target, fmt(a, "×", 2) + (f" ({detail})" if detail else ""), a >= at_least


class Table:
    """Metric | Wharf | Distribution | Wharf advantage (the targets are in the report's one Targets table);
    with `wharf_only`, Metric | Wharf, for what Distribution does not have."""

    def __init__(self, wharf_only: bool = False):
        self.rows: list[str] = []
        self.wharf_only = wharf_only

    def row(self, metric: str, w, d, unit: str, higher_better: bool, digits=None):
        if self.wharf_only:
            self.rows.append(f"| {metric} | {fmt(w, unit, digits)} |")
            return
        a = adv(w, d, higher_better) if unit != "%" and w == w and d == d else None
        self.rows.append(f"| {metric} | {fmt(w, unit, digits)} | {fmt(d, unit, digits)} | "
                         f"{fmt(a, '×', 2) if a else '—'} |")

    def text(self, metric: str, w: str, d: str = ""):
        """A row of text for both registries (no advantage)."""
        self.rows.append(f"| {metric} | {w} |" if self.wharf_only else f"| {metric} | {w} | {d} | |")

    def counts(self, metric: str, w: dict, d: dict):
        """Items listed / requests made, for each registry's listing `w` and `d`."""
        self.text(metric, f"{w.get('items', '—')} / {w.get('requests', '—')}",
                  f"{d.get('items', '—')} / {d.get('requests', '—')}")

    def setup(self, metric: str, section: dict):
        """The seconds each registry's setup took, from a scenario's results."""
        self.row(metric, section.get("Wharf", {}).get("setup_seconds"),
                 section.get("Distribution", {}).get("setup_seconds"), "", False)

    def render(self) -> str:
        head = ("| Metric | Wharf |\n|---|---:|" if self.wharf_only
                else "| Metric | Wharf | Distribution | Wharf advantage |\n|---|---:|---:|---:|")
        return head + "\n" + "\n".join(self.rows) + "\n"


def per_registry(section: dict, key: str, default=None) -> tuple:
    """(Wharf's, Distribution's) value of `key` in a scenario's results."""
    return section.get("Wharf", {}).get(key, default), section.get("Distribution", {}).get(key, default)
