"""Fixture repositories for the repository check, built in a temporary folder by the tests.

Each shape is a few files that stand for a kind of team: notebooks only; a tidy package; a
service rewritten in another language; a monorepo whose training and serving share feature
code; a repository full of hacks and untracked TODOs. `build(shape, folder)` writes the files
and runs `git init`, as a checkout would look.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path


def notebook(*cells: str) -> str:
    """A small Jupyter notebook with one code cell per argument."""
    return json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "metadata": {}, "source": ["# Exploration\n"]},
                *(
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "metadata": {},
                        "outputs": [],
                        "source": cell.splitlines(keepends=True),
                    }
                    for cell in cells
                ),
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


def notebooks_only() -> dict[str, str]:
    return {
        "README.md": "# Churn exploration\n",
        "requirements.txt": "pandas\nscikit-learn\nmatplotlib\n",
        "notebooks/01-explore.ipynb": notebook(
            "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
            "df = pd.read_csv('s3://bucket/churn.csv')\nthreshold = 0.73\nmin_tenure_cutoff = 6",
            "df = df[df.score > 0.42]\n# TODO drop the test accounts properly",
        ),
        "notebooks/02-train.ipynb": notebook(
            "import joblib\nfrom sklearn.ensemble import RandomForestClassifier",
            "decision_threshold = 0.5\nmax_score_limit = 3\nmodel.fit(X, y)",
            "joblib.dump(model, '/shared/models/churn-final-v2.pkl')",
        ),
        "notebooks/03-report.ipynb": notebook("import matplotlib.pyplot as plt"),
    }


def tidy_package() -> dict[str, str]:
    return {
        "pyproject.toml": (
            '[project]\nname = "churn"\nversion = "1.0"\n\n'
            "[tool.ruff]\nline-length = 100\n\n[tool.mypy]\nstrict = true\n"
        ),
        "uv.lock": "version = 1\n",
        "Dockerfile": "FROM python:3.11-slim\nCOPY . /app\nRUN pip install /app\n",
        ".pre-commit-config.yaml": "repos:\n  - repo: local\n    hooks: []\n",
        ".github/workflows/ci.yml": (
            "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - run: ruff check .\n      - run: mypy src\n      - run: pytest\n"
            "      - run: python -m churn.validate --schema-check data/sample.csv\n"
        ),
        ".github/workflows/release.yml": (
            "name: release\non: [workflow_dispatch]\njobs:\n  deploy:\n    steps:\n"
            "      - run: helm upgrade churn ./chart\n"
        ),
        "src/churn/__init__.py": "",
        "src/churn/features.py": "import pandas as pd\n\n\ndef build(df): ...\n",
        "src/churn/train.py": (
            "import mlflow\nfrom sklearn.linear_model import LogisticRegression\n\n"
            "from churn import features\n\n"
            "mlflow.register_model('runs:/abc/model', 'churn')\n"
            "client = mlflow.MlflowClient()\n"
            "client.set_registered_model_alias('churn', 'champion', 3)\n"
            "# TODO(CHURN-12): tune the regularisation once the new data lands\n"
        ),
        "src/churn/validate.py": (
            "import pandera as pa\n\nschema = pa.DataFrameSchema({'tenure': pa.Column(int)})\n"
        ),
        "src/churn/monitor.py": "from evidently.report import Report\n",
        "tests/test_features.py": "from churn import features\n\n\ndef test_build(): ...\n",
        "tests/test_train.py": "def test_train(): ...\n",
        "docs/architecture.md": "# Architecture\n",
    }


def jenkinsfile(command: str) -> str:
    return f"pipeline {{ stages {{ stage('test') {{ steps {{ sh '{command}' }} }} }} }}\n"


def rewritten_service() -> dict[str, str]:
    return {
        "README.md": "# Fraud scoring\n",
        "research/model.ipynb": notebook(
            "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
            "coefficients = model.coef_",
        ),
        "research/train.py": "from sklearn.linear_model import LogisticRegression\n",
        "research/requirements.txt": "pandas\nscikit-learn\n",
        "service/pom.xml": "<project><artifactId>scorer</artifactId></project>\n",
        "service/Jenkinsfile": jenkinsfile("mvn verify"),
        "Jenkinsfile": jenkinsfile("mvn -f service verify"),
        "service/src/main/java/com/acme/Scorer.java": (
            "package com.acme;\n\n"
            "public class Scorer {\n"
            "    // coefficients copied from the research notebook\n"
            "    private static final double[] WEIGHTS = {0.4, -1.2, 0.03};\n"
            "    public double predict(double[] features) { return 0.0; }\n"
            "}\n"
        ),
        "service/src/main/java/com/acme/FeatureBuilder.java": (
            "package com.acme;\n\npublic class FeatureBuilder {\n"
            "    // features re-implemented from the notebook\n}\n"
        ),
        "service/src/test/java/com/acme/ScorerTest.java": "package com.acme;\n",
    }


def monorepo_shared() -> dict[str, str]:
    return {
        "pyproject.toml": '[project]\nname = "recs"\nversion = "0.3"\n',
        "requirements.txt": "pandas==2.2.3\nscikit-learn==1.5.2\nfastapi==0.115.0\n",
        ".gitlab-ci.yml": "test:\n  script:\n    - pytest\n",
        "libs/features/__init__.py": "",
        "libs/features/transform.py": "import pandas as pd\n\n\ndef build_features(df): ...\n",
        "training/train.py": (
            "from sklearn.ensemble import GradientBoostingClassifier\n\n"
            "from features.transform import build_features\n"
        ),
        "serving/app.py": (
            "import prometheus_client\nfrom fastapi import FastAPI\n\n"
            "from features.transform import build_features\n"
        ),
        "tests/test_transform.py": "from features.transform import build_features\n",
        "tests/test_serving.py": "def test_health(): ...\n",
    }


def hacks_and_todos() -> dict[str, str]:
    return {
        "setup.py": "from setuptools import setup\nsetup(name='pricing')\n",
        "pricing/__init__.py": "",
        "pricing/model.py": (
            "import xgboost\n\n"
            "# HACK: hard-coded fix until the upstream feed sends currencies\n"
            "RATE = 1.08\n"
            "# TODO remove this once finance answers\n"
            "# FIXME this breaks on leap years\n"
            "def price(x):\n"
            "    # XXX workaround for negative prices\n"
            "    return max(x, 0)\n"
        ),
        "pricing/pipeline.py": (
            "import pandas as pd\n"
            "# TODO: read the spreadsheet from the shared drive instead of a copy\n"
            "# quick fix: monkeypatch the date parser\n"
            "# TODO (see PRICE-88) move to the warehouse table\n"
        ),
        "run_daily.py": (
            "import papermill\n\npapermill.execute_notebook('notebooks/daily.ipynb', 'out.ipynb')\n"
        ),
        "notebooks/daily.ipynb": notebook(
            "import pandas as pd\nmargin_threshold = 0.15\nprice_cutoff = 200",
            "df = df[df.ratio > 0.9]\n# HACK skip the broken store",
        ),
    }


SHAPES: dict[str, Callable[[], dict[str, str]]] = {
    "notebooks_only": notebooks_only,
    "tidy_package": tidy_package,
    "rewritten_service": rewritten_service,
    "monorepo_shared": monorepo_shared,
    "hacks_and_todos": hacks_and_todos,
}


def write_files(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def build(shape: str, folder: Path) -> Path:
    """The shape's files in `folder` (created), as a fresh git checkout."""
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, SHAPES[shape]())
    subprocess.run(
        ["git", "init", "--quiet", str(folder)], check=True, capture_output=True, timeout=30
    )
    return folder
