"""The demo and the synthetic years: generated submissions outside the core package (``etdz/`` never imports
them). :func:`write_demo` writes what ``etdz demo`` runs on (:mod:`demo.submissions`, docs/demo.md);
:func:`write_synthetic_year` a large valid year for benchmarks and scale tests (:mod:`demo.synthetic`)."""

from demo.submissions import DemoLayout, write_demo
from demo.synthetic import write_synthetic_year

__all__ = ["DemoLayout", "write_demo", "write_synthetic_year"]
