"""dks.report.SummaryRecord: ``summary.json`` as one typed value, for writers and readers."""

import dataclasses
import json

import pytest

from dks.pipeline import characterize, format_summary, load_results
from dks.report import SummaryRecord, write_report
from dks.results import write_json
from tests.pipeline_helpers import CLASSES, FEATURES, make_results

#: Keys that summary.json files written before this version may lack.
NEWER_KEYS = ("n_not_images", "not_images", "signal", "class_noise", "class_depth",
              "unresolved_classes", "timings", "wall_time_s")  # fmt: skip


@pytest.fixture(scope="module")
def characterized(tmp_path_factory):
    out = make_results(tmp_path_factory.mktemp("summary") / "res")
    result = characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    return out, result


def test_the_writer_and_the_readers_share_one_record(characterized):
    out, result = characterized
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    record = load_results(out)["summary"]
    assert isinstance(record, SummaryRecord) and isinstance(result.summary, SummaryRecord)
    assert record == result.summary == doc  # the file is the record's to_dict()
    assert record.extra == {}  # every key written is a field of the record
    fields = [f.name for f in dataclasses.fields(SummaryRecord) if f.name != "extra"]
    assert list(doc) == [name for name in fields if name != "validity"]  # in field order
    assert record.n_features == len(FEATURES) and record.n_classes == len(CLASSES)
    assert [row["name"] for row in record.classes] == CLASSES
    assert record.wall_time_s == doc["wall_time_s"] and record.timings == doc["timings"]


def test_old_summaries_still_read_and_unknown_keys_are_kept(characterized, tmp_path):
    out, _ = characterized
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    old = {k: v for k, v in doc.items() if k not in NEWER_KEYS}
    old["from_a_later_version"] = {"x": 1}
    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("embedding.json", "embedding.npy", "dks.npy", "thresholds.json"):
        (folder / name).write_bytes((out / name).read_bytes())
    write_json(folder / "summary.json", old)
    record = load_results(folder)["summary"]
    assert record.n_not_images == 0 and record.not_images == [] and record.signal == {}
    assert record.wall_time_s is None and record.class_depth is None
    assert record.extra == {"from_a_later_version": {"x": 1}}
    assert record["from_a_later_version"] == {"x": 1}  # read as the parsed JSON was
    assert record.to_dict()["from_a_later_version"] == {"x": 1}  # and written back
    assert SummaryRecord.from_dict(record.to_dict()) == record
    text = format_summary(record)
    assert f"{len(FEATURES)} features" in text and "Wall time" not in text
    html = write_report(tmp_path / "r.html", record).read_text(encoding="utf-8")
    assert "Per class" in html and "from_a_later_version" not in html


def test_the_record_reads_as_the_json_object_and_is_frozen(characterized, tmp_path):
    _, result = characterized
    record = result.summary
    assert record["t_plus"] == record.t_plus and record.get("t_minus") == record.t_minus
    assert "validity" not in record and record.get("validity") is None  # only when set
    assert dict(record) == record.to_dict() and len(record) == len(record.to_dict())
    with pytest.raises(KeyError):
        record["no_such_key"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.t_plus = 0.5
    changed = dataclasses.replace(record, validity={"ablation": []})
    assert changed["validity"] == {"ablation": []} and changed != record
    assert SummaryRecord.from_dict({"t_plus": 0.1, "layers": None}).layers == []  # null: default
    with pytest.raises(TypeError, match="A summary must be a dict"):
        SummaryRecord.from_dict([("t_plus", 0.1)])
    with pytest.raises(TypeError, match="'summary' must be a dict or a SummaryRecord"):
        write_report(tmp_path / "r.html", [("t_plus", 0.1)])
    with pytest.raises(TypeError):  # the writer builds the record: a misspelled key fails
        SummaryRecord(t_plis=0.1)
