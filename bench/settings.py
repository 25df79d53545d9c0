"""Production settings plus the baseline endpoint the benchmarks compare against."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
