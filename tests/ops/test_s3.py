"""An ``s3://`` warehouse (and archive) through fsspec/s3fs, against moto's S3 server on loopback.

The endpoint reaches s3fs through the standard ``AWS_ENDPOINT_URL`` (honoured by botocore/aiobotocore);
``AWS_EC2_METADATA_DISABLED=true`` and dummy credentials keep the SDK from looking for the
instance-metadata service. The `etdz run` subprocess logs every socket connection and name lookup
(a Python audit hook) and the test checks that none left loopback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re

import pandas as pd
import pyarrow.dataset as pads
import pytest

from etdz.schemas import DATASETS
from tests.ops.conftest import (
    GOLDEN,
    golden_env,
    network_audit_dir,
    non_loopback,
    read_dataset,
    read_netlog,
    require,
    run_golden,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

BUCKET = "etdz-golden"


@pytest.fixture(scope="module", autouse=True)
def _needs_moto():
    require(importlib.util.find_spec("moto") is not None and importlib.util.find_spec("s3fs") is not None,
            "moto[server] and s3fs are not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def s3_run(s3_server, tmp_path_factory):
    s3_server.create_bucket(BUCKET)
    root = tmp_path_factory.mktemp("s3")
    netlog = root / "netlog.jsonl"
    audit = network_audit_dir(root / "audit")
    env = golden_env(root, ETDZ_WAREHOUSE=f"s3://{BUCKET}/warehouse", ETDZ_REPORTS=f"s3://{BUCKET}/reports",
                     PYTHONPATH=str(audit),
                     ETDZ_NETLOG=str(netlog), **s3_server.env())
    proc = run_golden(root, env)
    return root, proc, netlog


@pytest.mark.parametrize("name", DATASETS)
def test_results_equal_those_of_a_local_warehouse(s3_server, s3_run, baseline_run, name):
    got = read_dataset(f"{BUCKET}/warehouse", name, filesystem=s3_server.filesystem())
    want = read_dataset(str(baseline_run[0] / "warehouse"), name)
    if name == "submission_log":  # where each file was archived differs by design; everything else is equal
        assert got.pop("archive_path").str.startswith(f"s3://{BUCKET}/warehouse/_archive/").all()
        want.pop("archive_path")
    pd.testing.assert_frame_equal(got, want)


def test_the_bucket_holds_the_hive_layout_and_nothing_half_written(s3_server, s3_run):
    fs = s3_server.filesystem()
    keys = [k.split(f"{BUCKET}/warehouse/", 1)[1] for k in fs.find(f"{BUCKET}/warehouse")]
    assert not [k for k in keys if k.endswith(".tmp")]  # nothing staged is left behind
    # readers skip `_` folders (the archive, the ranking_changes baseline): the datasets are the rest
    tables = sorted(k for k in keys if not k.startswith("_"))
    assert tables == sorted(f"{d}/data_year={y}/part-0.parquet" for d in DATASETS for y in (2020, 2021))


def test_reports_are_published_to_the_bucket(s3_server, s3_run, baseline_run):
    fs = s3_server.filesystem()
    keys = {k.split(f"{BUCKET}/reports/", 1)[1] for k in fs.find(f"{BUCKET}/reports")}
    ranked = read_dataset(str(baseline_run[0] / "warehouse"), "rankings")
    for year in (2020, 2021):
        assert {f"{year}/national_report.html", f"{year}/rankings.xlsx", f"{year}/validation.html"} <= keys
        zones = set(ranked.loc[ranked.data_year == year, "zone_code"])
        assert {k.split("/")[-1] for k in keys if k.startswith(f"{year}/zones/")} == {f"{z}.html" for z in zones}
    html = fs.cat_file(f"{BUCKET}/reports/2021/national_report.html").decode("utf-8")
    assert "<html" in html.lower()


def test_every_submission_is_archived_in_the_bucket_by_sha256(s3_server, s3_run):
    fs = s3_server.filesystem()
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (GOLDEN / "inbox").rglob("*") if p.is_file()}
    archived = {k.rsplit("/", 1)[-1] for k in fs.find(f"{BUCKET}/warehouse/_archive")}
    assert hashes and hashes <= archived
    sha = sorted(hashes)[0]
    assert fs.cat_file(f"{BUCKET}/warehouse/_archive/{sha[:2]}/{sha}")  # the bytes are there


def test_pyarrow_reads_each_dataset_as_one_table(s3_server, s3_run, baseline_run):
    from etdz.storage import Warehouse

    ds = pads.dataset(f"{BUCKET}/warehouse/rankings", filesystem=s3_server.filesystem(), format="parquet",
                      partitioning="hive")
    table = ds.to_table()
    assert sorted(set(table.column("data_year").to_pylist())) == [2020, 2021]
    assert table.num_rows == read_dataset(str(baseline_run[0] / "warehouse"), "rankings").shape[0]
    # the project's own API on the same URL (endpoint from AWS_ENDPOINT_URL, set by the fixture)
    wh = Warehouse(f"s3://{BUCKET}/warehouse")
    assert wh.years("rankings") == [2020, 2021]
    assert wh.dataset("rankings").count_rows() == table.num_rows
    assert wh.url("rankings", 2021) == f"s3://{BUCKET}/warehouse/rankings/data_year=2021/part-0.parquet"


def test_nothing_left_loopback(s3_server, s3_run):
    entries = read_netlog(s3_run[2])
    assert any(str(s3_server.port) in e["address"] for e in entries), "the audit hook saw no S3 traffic at all"
    assert not [e for e in entries if "169.254" in e["address"]], "the instance-metadata address was contacted"
    assert non_loopback(entries) == []


# ----------------------------------------------------------------------------- publish_folder


def _tree(tmp_path):
    src = tmp_path / "reports" / "2021"
    (src / "zones").mkdir(parents=True)
    (src / "rejections").mkdir()
    (src / "national_report.html").write_text("<h1>国家级经开区综合发展水平考核评价</h1>", encoding="utf-8")
    (src / "zones" / "110001.html").write_text("<p>甲经开区</p>", encoding="utf-8")
    (src / "rejections" / "bad file.txt").write_text("拒收", encoding="utf-8")
    (src / "rankings.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40_000)  # ~10 MB
    (src / "_rankings.xlsx.tmp").write_bytes(b"half")
    (src / ".hidden").write_bytes(b"x")
    return src


def test_publish_folder_uploads_the_tree_one_put_per_object(s3_server, tmp_path):
    from etdz.storage import publish_folder

    bucket = s3_server.create_bucket("etdz-publish")
    src = _tree(tmp_path)
    before = s3_server.log.read_text(encoding="utf-8", errors="replace")
    publish_folder(src, f"s3://{bucket}/reports/2021")
    requests = s3_server.log.read_text(encoding="utf-8", errors="replace")[len(before):]

    fs = s3_server.filesystem()
    keys = sorted(k.removeprefix(f"{bucket}/reports/2021/") for k in fs.find(f"{bucket}/reports/2021"))
    assert keys == ["national_report.html", "rankings.xlsx", "rejections/bad file.txt", "zones/110001.html"]
    for k in keys:
        assert fs.cat_file(f"{bucket}/reports/2021/{k}") == (src / k).read_bytes()
    head = s3_server.client().head_object(Bucket=bucket, Key="reports/2021/national_report.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    puts = re.findall(r'"PUT /etdz-publish/(\S+) HTTP', requests)
    assert len(puts) == 4 and "uploads" not in requests  # no multipart upload
    assert not any("_rankings" in p or ".hidden" in p for p in puts)


def test_publish_folder_replaces_and_optionally_removes_stale_objects(s3_server, tmp_path):
    from etdz.storage import publish_folder

    bucket = s3_server.create_bucket("etdz-mirror")
    src = _tree(tmp_path)
    url = f"s3://{bucket}/2021"
    publish_folder(src, url)
    (src / "zones" / "110001.html").write_text("<p>甲经开区 (corrected)</p>", encoding="utf-8")
    (src / "rejections" / "bad file.txt").unlink()
    publish_folder(src, url)
    fs = s3_server.filesystem()
    assert fs.cat_file(f"{bucket}/2021/zones/110001.html").decode() == "<p>甲经开区 (corrected)</p>"
    assert fs.exists(f"{bucket}/2021/rejections/bad file.txt")  # kept by default
    publish_folder(src, url, delete_stale=True)
    fs = s3_server.filesystem()
    assert not fs.exists(f"{bucket}/2021/rejections/bad file.txt")
    assert fs.exists(f"{bucket}/2021/national_report.html")


def test_publish_folder_to_a_local_folder(tmp_path):
    from etdz.storage import publish_folder

    src = _tree(tmp_path)
    dest = tmp_path / "published"
    publish_folder(src, str(dest))
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert got == ["national_report.html", "rankings.xlsx", "rejections/bad file.txt", "zones/110001.html"]
    with pytest.raises(NotADirectoryError):
        publish_folder(tmp_path / "missing", str(dest))
