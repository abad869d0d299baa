"""``miglink init DIR``: an editable copy of the protocol's study file and of the concept sets
it uses, so a researcher starts from a study that validates and runs, and edits it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand
from miglink.errors import MiglinkError

#: What the written study.yaml starts with: where its parts are and how to run it.
HEADER = """\
# An editable miglink study, written by `miglink init` (docs/study-file.md explains every key).
# Run it with:   miglink run --data CDM --out RESULTS --study {study}
# Sections: settings (analysis choices), negative_controls / autoimmune / d1_outcomes
# (concept-set ids), comparisons (design D10), genetics (MR), claims (each with its
# hypotheses: a design, an exposure and an outcome). concept_set_files below are the copies of
# the bundled concept sets in concept_sets/; edit them, or add your own files to the list (a set
# defined there replaces the bundled set of the same id). Unknown keys are refused.
"""


#: A comment above each top-level section the bundled file leaves uncommented.
SECTION_NOTES = {
    "settings": "analysis choices (every key and its default: docs/study-file.md); alpha and "
    "power set every interval",
    "negative_controls": "conditions with no known link to migraine: they calibrate D1, D2, "
    "D5 and D7",
    "autoimmune": "the autoimmune concept sets (any_autoimmune is their union); any condition "
    "set, your own included, may be added",
    "nervous_system_autoimmune": "the CNS subset of autoimmune (cns_autoimmune; D1's CNS vs "
    "non-CNS contrast)",
    "d1_outcomes": "further D1 outcomes beyond the autoimmune sets",
    "claims": "each claim: id (a positive whole number, unique), title, statement, rule and its "
    "hypotheses (id unique across the file; design D1-D10 or MR, exposure, outcome, expected)",
}


def _annotate(text: str) -> str:
    """Put each :data:`SECTION_NOTES` comment above its section when none is there."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        key = line.split(":", 1)[0]
        if key in SECTION_NOTES and not (out and out[-1].startswith("#")):
            out.append(f"# {key}: {SECTION_NOTES[key]}")
        out.append(line)
    return "\n".join(out)


def bundled_set_files() -> list[Path]:
    """The protocol's concept-set files, in load order."""
    root = Path(str(resources.files("miglink") / "data" / "concept_sets"))
    return sorted(root.glob("*.yaml"))


def study_text(set_files: list[str]) -> str:
    """The bundled study file with the header and ``concept_set_files`` naming the copies."""
    from miglink.claims.model import default_study_path

    text = default_study_path().read_text(encoding="utf-8")
    key = "\nname:"
    if key not in text or "\nconcept_set_files:" in text:
        raise MiglinkError("the bundled study file has no top-level 'name' to add sets after")
    head, _, rest = text.partition(key)
    files = "\n".join(f"  - {f}" for f in set_files)
    line, _, tail = rest.partition("\n")
    block = (
        f"# the concept sets the study uses (relative to this file)\nconcept_set_files:\n{files}"
    )
    body = head + key + line + "\n" + block + "\n" + _annotate(tail)
    return HEADER.format(study="study.yaml") + body


def write_init(folder: Path) -> list[Path]:
    """Write study.yaml and concept_sets/*.yaml into ``folder``; refuse to overwrite any file
    (checked for all before the first is written, so a refusal leaves nothing half-written)."""
    sources = bundled_set_files()
    targets = {folder / "concept_sets" / s.name: s.read_text(encoding="utf-8") for s in sources}
    study = study_text([f"concept_sets/{s.name}" for s in sources])
    plan = {folder / "study.yaml": study, **targets}
    for p in plan:
        if p.exists() or p.is_symlink():
            raise MiglinkError(f"{p} exists; miglink init never overwrites a file")
    for p, text in plan.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "x", encoding="utf-8") as f:  # "x": never overwrite, even in a race
            f.write(text)
    return list(plan)


def register(app: typer.Typer) -> None:
    @app.command("init", cls=OneLineCommand)
    def init(
        folder: Path = typer.Argument(..., help="Folder to write study.yaml and concept_sets/ in."),
    ) -> None:
        """Write an editable study file and the concept sets it uses."""
        written = write_init(folder)
        for p in written:
            typer.echo(f"wrote {p}")
        typer.echo(f"next: miglink run --data CDM --out RESULTS --study {folder / 'study.yaml'}")
