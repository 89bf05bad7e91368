"""Generate the Python stubs of every .proto under proto/ into libs/api/.

Protos live at proto/omnigate/<service>/v1/*.proto (package omnigate.<svc>.v1);
their Python modules become libs.api.<svc>.v1.*_pb2 with .pyi stubs, one
package for every service (never a copy per service). The generator's
absolute imports (``from omnigate.sms.v1 import ...``) are rewritten to the
package's real location. ``--check`` regenerates into a temporary folder and
fails when the committed stubs differ.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

from google.rpc import status_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "libs" / "api"
_IMPORT = re.compile(r"^(from|import) omnigate\.", re.MULTILINE)


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        include = Path(protoc.__file__).parent / "_proto"
        # google/rpc/*.proto ship with googleapis-common-protos (a grpcio-status dependency).
        googleapis = Path(status_pb2.__file__).parent.parent.parent
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"-I{googleapis}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(Path(tmp) / "omnigate", out)
    for path in out.rglob("*.py*"):
        text = path.read_text()
        text = _IMPORT.sub(r"\1 libs.api.", text)
        path.write_text(text)
    for folder in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()


def differs(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    diffs = [*cmp.left_only, *cmp.right_only, *cmp.diff_files]
    for sub in cmp.common_dirs:
        diffs += [f"{sub}/{d}" for d in differs(a / sub, b / sub)]
    return [d for d in diffs if d != "__pycache__" and not d.endswith("/__pycache__")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if libs/api is stale")
    if parser.parse_args().check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "api"
            generate(fresh)
            stale = differs(fresh, OUT_DIR) if OUT_DIR.exists() else ["libs/api missing"]
        if stale:
            print("stale generated stubs, run `make proto`:", *stale, sep="\n  ", file=sys.stderr)
            raise SystemExit(1)
        print("generated stubs are up to date")
        return
    generate(OUT_DIR)
    print(f"generated stubs into {OUT_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
