"""Copying the module source files into a saved model folder's root.

A saved PLUME model lists its modules as ``plume_input.PlumeInput`` etc. and carries their source files in the
folder root, so ``SentenceTransformer(folder, trust_remote_code=True)`` loads them even where ``plume_st`` is not
installed. Each module copies its own file and the files it imports relatively, wherever it is loaded from
(the installed package or transformers' remote-code cache).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from transformers.dynamic_module_utils import get_relative_import_files


def copy_module_sources(module_class: type, root: str | Path) -> None:
    """Copy the file defining ``module_class`` and its relative imports into ``root``."""
    source = Path(sys.modules[module_class.__module__].__file__)
    root = Path(root)
    for path in [source, *map(Path, get_relative_import_files(str(source)))]:
        target = root / path.name
        if not target.exists() or not target.samefile(path):
            shutil.copyfile(path, target)


def class_reference(module_class: type) -> str:
    """The ``file.Class`` reference under which a saved folder lists ``module_class``."""
    return f"{Path(sys.modules[module_class.__module__].__file__).stem}.{module_class.__name__}"
