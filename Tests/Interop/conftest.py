"""Suite-wide fixtures: the interop tests give their disk back as they go.

The suite converts, quantises and merges real models; kept until the session ends, its temporary
folders grow past 40 GB and a CI machine's disk fills part-way (every later test then fails to make its
`tmp_path`). A passed test's `tmp_path` is removed when it ends (`-o tmp_path_retention_policy=failed`,
set by the Makefile); this fixture removes a module's own folders (`tmp_path_factory.mktemp` in module
fixtures) when the module ends without a failure. Failed tests keep their folders for inspection.
"""

import shutil

import pytest


@pytest.fixture(scope="module", autouse=True)
def module_folders_removed(request, tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    failures_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failures_before:
        for folder in set(base.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)
