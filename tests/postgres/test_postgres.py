"""PostgreSQL as a tested engine (issue 17): OMOP folders loaded with ``miglink load`` and run
with ``miglink run`` give DuckDB's results, claims, curves, prevalence, attrition and
calibration to 1e-9, as a read-only role, with no credential in any artefact.

One file, so ``pytest -n 2 --dist loadfile`` starts one server and runs each study once."""

from __future__ import annotations

import json
import re
import sys
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pg_helpers import (  # noqa: E402
    RO_PASSWORD,
    RO_PASSWORD_URL,
    RO_USER,
    assert_json_equal,
    assert_runs_equal,
)

from miglink.cli.main import main  # noqa: E402

#: the smallest world in which every design D1-D10 estimates something (D10 needs the
#: indication scenario: glatiramer exists only there); 4k persons, seed 7107 (as test_d10_count)
SYNTH_PERSONS, SYNTH_SEED = 4_000, 7107
SCENARIO = {
    "description": "confounding by indication (postgres parity)",
    "baseline": None,
    "confounding_by_indication": {"ms_ifn_vs_ga": {"hr": 2.0}, "ra_tnf_vs_mtx": {"hr": 1.0}},
}
#: the bundled study with its first 6 negative controls (of 22), as tests/parity does: every
#: code path (calibration needs 5) at a quarter of the control cohorts' time
N_CONTROLS = 6


def _cli(*args: str) -> int:
    return main(list(args))


@pytest.fixture(scope="session")
def short_study(tmp_path_factory) -> str:
    text = (files("miglink") / "data" / "study.yaml").read_text()
    m = re.search(r"negative_controls:\s*\[([^\]]*)\]", text)
    names = [n.strip() for n in m.group(1).split(",")][:N_CONTROLS]
    path = tmp_path_factory.mktemp("study") / "study.yaml"
    path.write_text(text[: m.start(1)] + ", ".join(names) + text[m.end(1) :])
    return str(path)


@pytest.fixture(scope="session")
def synth_folder(tmp_path_factory) -> Path:
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("pgsynth") / "cdm"
    generate(persons=SYNTH_PERSONS, seed=SYNTH_SEED, out=out, scenario=SCENARIO)
    return out


@pytest.fixture(scope="session")
def loaded(pg_server, shared_data, synth_folder):
    """Eunomia in schema cdm, the synthetic world in schema syn (by ``miglink load``, as the
    superuser), then a read-only role: USAGE and SELECT there, its own scratch schema."""
    eunomia = shared_data / "eunomia-gibleed"
    assert (
        _cli("load", "--data", str(eunomia), "--to", pg_server.admin_url(), "--schema", "cdm") == 0
    )
    assert (
        _cli("load", "--data", str(synth_folder), "--to", pg_server.admin_url("?cdm_schema=syn"))
        == 0
    )
    pg_server.sql(
        f"CREATE ROLE {RO_USER} LOGIN PASSWORD '{RO_PASSWORD}'",
        f"GRANT USAGE ON SCHEMA cdm, syn TO {RO_USER}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA cdm, syn TO {RO_USER}",
        f"CREATE SCHEMA miglink_scratch AUTHORIZATION {RO_USER}",
    )
    return {"eunomia": eunomia, "synth": synth_folder, "tables": _tables(pg_server)}


def _tables(server) -> list[tuple[str, str]]:
    return server.sql(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('cdm', 'syn') ORDER BY 1, 2"
    )


@pytest.fixture(scope="session")
def eunomia_runs(loaded, pg_server, short_study, tmp_path_factory):
    """(DuckDB run, PostgreSQL run) of Eunomia: the password in the URL, temporary tables."""
    base = tmp_path_factory.mktemp("pg-eunomia")
    duck, pg = base / "duckdb", base / "postgres"
    # one database id for both runs: the default names the source (folder vs database)
    common = ("--study", short_study, "--quiet", "--database-id", "eunomia")
    assert (
        _cli("run", "--data", str(loaded["eunomia"]), "--out", str(duck), "--no-report", *common)
        == 0
    )
    url = pg_server.ro_url("?cdm_schema=cdm&sslmode=disable")
    assert _cli("run", "--data", url, "--out", str(pg), *common) == 0  # with report.html
    return duck, pg


@pytest.fixture(scope="session")
def synth_runs(loaded, pg_server, short_study, tmp_path_factory):
    """(DuckDB run, PostgreSQL run) of the synthetic world: PGPASSWORD, a scratch schema."""
    base = tmp_path_factory.mktemp("pg-synth")
    duck, pg = base / "duckdb", base / "postgres"
    common = ("--study", short_study, "--quiet", "--no-report", "--database-id", "synth")
    assert _cli("run", "--data", str(loaded["synth"]), "--out", str(duck), *common) == 0
    url = pg_server.ro_url("?cdm_schema=syn&scratch_schema=miglink_scratch", password=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGPASSWORD", RO_PASSWORD)
        assert _cli("run", "--data", url, "--out", str(pg), *common) == 0
    return duck, pg


def test_eunomia_equal_on_duckdb_and_postgres(eunomia_runs):
    duck, pg = eunomia_runs
    assert_runs_equal(duck, pg)
    assert json.loads((pg / "run.json").read_text())["parameters"]["engine"] == "postgres"


def test_synthetic_equal_on_duckdb_and_postgres_in_every_design(synth_runs):
    duck, pg = synth_runs
    assert_runs_equal(duck, pg)
    r = pd.read_parquet(pg / "results.parquet")
    estimated = r[pd.to_numeric(r["estimate"], errors="coerce").notna()]
    # every design's count step ran; D2's estimates are withheld below the minimum cell at 4k
    # persons (10k would show them at twice this test's time), its person-time is not
    assert set(estimated["design"]) == {f"D{k}" for k in range(1, 11)} - {"D2"}
    d2 = r[r["design"] == "D2"]
    assert pd.to_numeric(d2["person_years_exposed"], errors="coerce").notna().sum() > 5


def test_no_credential_in_any_artefact(eunomia_runs, synth_runs):
    outs = [eunomia_runs[1], synth_runs[1]]
    assert (eunomia_runs[1] / "report.html").is_file()
    for out in outs:
        for f in out.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                for secret in (RO_PASSWORD, RO_PASSWORD_URL, "Mgl-pw"):
                    assert secret.encode() not in data, f.name
        assert RO_USER not in (out / "run.json").read_text()


def test_read_only_role_wrote_nothing_into_the_cdm(eunomia_runs, synth_runs, loaded, pg_server):
    import psycopg

    assert _tables(pg_server) == loaded["tables"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pg_server.sql("CREATE TABLE cdm.probe (x int)", user=RO_USER, password=RO_PASSWORD)


def _json_without_source(text: str) -> dict:
    d = json.loads(text)
    d.pop("source", None), d.pop("engine", None)
    return d


@pytest.mark.parametrize("command", ["check", "concepts"])
def test_check_and_concepts_equal_with_a_pgpass_file(
    command, loaded, pg_server, tmp_path, capsys, monkeypatch
):
    """The password from a pgpass file (as libpq reads it), the vocabulary in its own schema
    named by vocab_schema (here the same one: the option is parsed and checked)."""
    assert _cli(command, "--json", "--data", str(loaded["eunomia"])) == 0
    duck = capsys.readouterr().out
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg_server.port}:*:{RO_USER}:{RO_PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = pg_server.ro_url("?cdm_schema=cdm&vocab_schema=cdm", password=False)
    assert _cli(command, "--json", "--data", url) == 0
    pg = capsys.readouterr().out
    assert_json_equal(_json_without_source(duck), _json_without_source(pg))
    assert '"engine": "postgres"' in pg


def test_a_wrong_password_is_one_line_without_it(pg_server, capsys):
    url = f"postgresql://{RO_USER}:Wr0ng-{RO_PASSWORD_URL}@127.0.0.1:{pg_server.port}/postgres"
    assert _cli("check", "--data", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("miglink: error: cannot connect to postgresql://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1
    assert "Wr0ng" not in err and "Mgl-pw" not in err


def test_missing_schema_and_scratch_in_the_cdm_are_refused(loaded, pg_server, capsys):
    assert _cli("check", "--data", pg_server.ro_url("?cdm_schema=nope", password=True)) == 2
    assert "has no schema 'nope' (named by cdm_schema)" in capsys.readouterr().err
    url = pg_server.ro_url("?cdm_schema=cdm&scratch_schema=cdm")
    assert _cli("check", "--data", url) == 2
    assert "miglink never writes there" in capsys.readouterr().err


def test_load_types_columns_and_refuses_to_overwrite(pg_server, tmp_path, capsys):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "PERSON.csv").write_text(
        "person_id,gender_concept_id,year_of_birth,race_concept_id,person_source_value,extra\n"
        "1,8507,1970,0, a1 ,x\n2,8532,1980,0,,\n"
    )
    url = pg_server.admin_url("?cdm_schema=tiny")
    assert _cli("load", "--data", str(folder), "--to", url) == 0
    types = dict(
        pg_server.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'tiny' AND table_name = 'person'"
        )
    )
    assert types["person_id"] == types["year_of_birth"] == "bigint"
    assert types["extra"] == types["person_source_value"] == "character varying"  # no length
    rows = pg_server.sql("SELECT person_id, person_source_value, extra FROM tiny.person ORDER BY 1")
    assert rows == [(1, "a1", "x"), (2, None, None)]  # the typed layer's values
    capsys.readouterr()
    assert _cli("load", "--data", str(folder), "--to", url) == 2
    err = capsys.readouterr().err
    assert "tiny.person" in err and "--replace" in err and len(err.strip().splitlines()) == 1
    assert _cli("load", "--data", str(folder), "--to", url, "--replace") == 0
    assert pg_server.sql("SELECT count(*) FROM tiny.person") == [(2,)]
