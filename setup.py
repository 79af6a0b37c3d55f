"""Packaging for the ETDZ assessment platform.

Pins: the whole dagster family moves together (the webserver pins ``dagster==`` its
own release, see ../shared/notes/stack.md); dagster-ge / dagster-pandas are
deliberately absent (they need pandas < 3 and GX 0.x).
"""

from setuptools import find_packages, setup

setup(
    name="etdz",
    version="0.1.0",
    description="Yearly assessment of China's national economic and technological development zones, on Dagster",
    python_requires=">=3.11,<3.13",
    packages=find_packages(include=["etdz", "etdz.*", "demo", "demo.*", "assets", "assets.*", "checks", "checks.*",
                                    "pipelines", "pipelines.*", "portal", "portal.*"]),
    package_data={
        "etdz": ["catalogues/*.yaml", "data/*.csv", "data/*.yaml", "data/*.j2", "reports/templates/*.j2",
                 "reports/static/*"],
        "demo": ["data/*.csv"],
        "portal": ["jinja2/portal/*.html", "migrations/*.py"],
    },
    include_package_data=True,
    install_requires=[
        # one dagster release for the core and its libraries (1.13.x <-> 0.29.x)
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-postgres==0.29.27",
        "great-expectations>=1.24,<2",
        "pandas>=3.0,<4",
        "pyarrow>=26,<27",
        "numpy>=2.2,<3",
        "PyYAML>=6,<7",
        "openpyxl>=3.1,<4",  # reads submitted workbooks, writes the template
        "XlsxWriter>=3.2,<4",  # the ranking workbook, streamed (constant_memory)
        "defusedxml>=0.7,<1",  # openpyxl uses it when installed: no XML entity attacks
        "Jinja2>=3.1,<4",
        # s3:// warehouses through fsspec. s3fs pins fsspec to its own release and aiobotocore pins a
        # narrow botocore window, so the four move together as one set; left open, pip (23.2, as
        # `python3 -m venv` ships it) backtracks for minutes or gives up with ResolutionImpossible.
        "fsspec==2026.9.0",
        "s3fs==2026.9.0",
        "aiobotocore==3.10.0",  # -> botocore>=1.43.115,<1.43.118
        # dagster-graphql's graphene 3.4 needs graphql-core < 3.3, but gql >= 4.1 (also dagster-graphql's) and moto
        # (tests) take the newest graphql-core: pip 23.2 then backtracks through every graphene release.
        "graphql-core==3.2.14",
        "gql[requests]==4.0.0",
        # the submission portal (portal/, docs/contract/06-portal.md): Django's LTS line (auth, sessions, CSRF,
        # migrations), argon2id password hashing, waitress as its production WSGI server. PostgreSQL through the
        # psycopg2-binary that dagster-postgres already brings (Django 5.2 supports it).
        "Django>=5.2.8,<5.3",
        "argon2-cffi>=25.1,<26",
        "waitress>=3.0.2,<4",
    ],
    extras_require={
        "test": [
            "pytest>=9,<10",
            "hypothesis>=6.100,<7",
            "moto[server]>=5,<6",
            "boto3==1.43.117",  # botocore 1.43.117: inside aiobotocore's window (see s3fs above)
            "ruff==0.17.6",  # the linter .ci/run runs (ruff.toml)
            "selenium>=4.51,<4.52",  # the browser test (Debian's chromedriver); 4.52+ needs a certifi not released
        ],
    },
    entry_points={"console_scripts": ["etdz=pipelines.cli:entry"]},
)
