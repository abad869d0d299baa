"""A local Spark session with sensible settings for tests and single-machine use."""

from __future__ import annotations

import os


def local_spark_session(cores: int = 2, shuffle_partitions: int = 4, app_name: str = "miglink"):
    """Create (or get) a ``local[cores]`` SparkSession with the UI and console progress off.

    Settings follow STACK.md: small shuffle partition count, loopback address, no UI, no
    adaptive query execution (its re-planning dominated the study's time on small data). Driver
    memory (in local mode also the executor's): ``MIGLINK_SPARK_MEMORY`` (e.g. "6g"), else a
    third of physical memory, at least 4g (a 1M-person study needs more than 4g).
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import psutil

    memory = os.environ.get("MIGLINK_SPARK_MEMORY") or (
        f"{max(4, int(psutil.virtual_memory().total / 3 / 2**30))}g"
    )
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", memory)
        .config("spark.sql.ansi.enabled", "false")
        # D2's matching builds plans whose text alone can exhaust the driver heap (seen at 7 GB)
        .config("spark.sql.maxPlanStringLength", "100000")
        # adaptive execution re-optimises every stage of the study's deep plans: off, D2's
        # counts on 5k persons took 24 s instead of 76 s (benchmarks/RESULTS.md, Spark)
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
