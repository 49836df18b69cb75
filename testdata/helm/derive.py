"""The steps of `generate` that no command-line tool does: each derives a fixture from what Helm,
GnuPG or GNU tar wrote, and fails loudly when that input does not look as expected.

    derive.py tamper SIGNED OUT               change the signed text of a clear-signed file
    derive.py add-bom DIR                     put a UTF-8 byte order mark before every text file
    derive.py windows-tar PARENT TOP DATE OUT  archive PARENT/TOP with `\\` between path parts
    derive.py indexes HELM_YAML HELM_JSON DIR  the index file variants, from `helm repo index`
"""

import copy
import datetime
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

BOM = b"\xef\xbb\xbf"
MIRROR_URL = "https://mirror.example.com/charts/alpine-1.0.0.tgz"


def replace_once(text, old, new, what):
    if text.count(old) != 1:
        sys.exit(f"derive.py: expected one {old!r} in {what}, found {text.count(old)}")
    return text.replace(old, new)


def tamper(signed_path, out_path):
    """The signed text changes (another version and sha), the signature stays: a forgery."""
    with open(signed_path, encoding="utf-8") as signed:
        text = signed.read()
    text = replace_once(text, "\nversion: 1.2.3\n", "\nversion: 1.2.3+tampered\n", signed_path)
    start = text.index(": sha256:") + len(": sha256:")
    forged = hashlib.sha256(b"not the archive").hexdigest()
    text = text[:start] + forged + text[start + 64 :]
    with open(out_path, "w", encoding="utf-8") as out:
        out.write(text)


def add_bom(root):
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(".tgz"):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as file:
                data = file.read()
            with open(path, "wb") as file:
                file.write(BOM + data)


def windows_tar(parent, top, date, out_path):
    """File entries only, named `top\\dir\\file`, as archivers on Windows have written them."""
    mtime = int(datetime.datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())
    paths = []
    for directory, _, files in os.walk(os.path.join(parent, top)):
        paths.extend(os.path.join(directory, name) for name in files)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path in sorted(paths):
            relative = os.path.relpath(path, parent)
            info = tarfile.TarInfo("\\".join(relative.split(os.sep)))
            with open(path, "rb") as file:
                data = file.read()
            info.size, info.mode, info.mtime = len(data), 0o755, mtime
            archive.addfile(info, io.BytesIO(data))
    with open(out_path, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=mtime) as zipped:
            zipped.write(buffer.getvalue())


class HelmIndexText:
    """`helm repo index` YAML split into its top-level lines and, under `entries:`, one list of
    version items (each a list of lines) per chart, so variants can be derived line by line."""

    def __init__(self, text):
        lines = text.splitlines()
        start = lines.index("entries:")
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
        self.head, self.tail = lines[: start + 1], lines[end:]
        self.charts = {}
        for line in lines[start + 1 : end]:
            if line.startswith("  ") and not line.startswith("   ") and line.endswith(":") and line[2] != "-":
                items = self.charts[line.strip()[:-1]] = []
            elif line.startswith("  - "):
                items.append([line])
            elif line.startswith("    "):
                items[-1].append(line)
            else:
                sys.exit(f"derive.py: unexpected line under entries: {line!r}")

    def text(self):
        lines = list(self.head)
        for name, items in self.charts.items():
            lines.append(f"  {name}:")
            for item in items:
                lines.extend(item)
        return "\n".join(lines + self.tail) + "\n"

    def copy(self):
        return copy.deepcopy(self)


def only_item(index, name):
    items = index.charts[name]
    if len(items) != 1:
        sys.exit(f"derive.py: expected one version of {name}, found {len(items)}")
    return items[0]


def local_index(helm):
    """Helm's index with two URLs for alpine and none for chartWithNoURL."""
    index = helm.copy()
    alpine = only_item(index, "alpine")
    url = next(i for i, line in enumerate(alpine) if line.startswith("    - ") and "alpine-1.0.0.tgz" in line)
    alpine.insert(url + 1, f"    - {MIRROR_URL}")
    no_url = only_item(index, "chartWithNoURL")
    start = no_url.index("    urls:")
    end = start + 1
    while end < len(no_url) and no_url[end].startswith("    - "):
        end += 1
    del no_url[start:end]
    return index


def without_api_version(item):
    """The item without its `apiVersion:` line, keeping the `- ` on its first line."""
    first = item[0][4:]
    rest = ["    " + first] + item[1:]
    kept = [line for line in rest if not line.startswith("    apiVersion:")]
    if len(kept) != len(rest) - 1:
        sys.exit(f"derive.py: no apiVersion line in {item!r}")
    return ["  - " + kept[0][4:]] + kept[1:]


def indexes(helm_yaml, helm_json, out_dir):
    with open(helm_yaml, encoding="utf-8") as file:
        helm = HelmIndexText(file.read())
    if sorted(helm.charts) != ["alpine", "chartWithNoURL", "nginx"]:
        sys.exit(f"derive.py: unexpected charts in {helm_yaml}: {sorted(helm.charts)}")
    local = local_index(helm)
    files = {"local-index.yaml": local.text()}

    unordered = local.copy()
    unordered.charts = {name: unordered.charts[name] for name in ["nginx", "chartWithNoURL", "alpine"]}
    unordered.charts["nginx"].reverse()
    files["local-index-unordered.yaml"] = unordered.text()

    # Helm writes top-level keys sorted, so `annotations` comes first and `serverInfo` last.
    files["local-index-annotations.yaml"] = "annotations:\n  helm.sh/test: foo bar\n" + local.text()
    files["chartmuseum-index.yaml"] = local.text() + "serverInfo:\n  contextPath: /v1/helm\n"

    server = local.copy()
    del server.charts["chartWithNoURL"]
    server.charts = {name: [without_api_version(item) for item in items] for name, items in server.charts.items()}
    files["server/index.yaml"] = server.text()

    with open(helm_json, encoding="utf-8") as file:
        raw_json = file.read()
    index = json.loads(raw_json)
    index["entries"]["alpine"][0]["urls"].append(MIRROR_URL)
    del index["entries"]["chartWithNoURL"][0]["urls"]
    indent = 2 if raw_json.startswith("{\n") else None
    separators = (",", ": ") if indent else (",", ":")
    files["local-index.json"] = json.dumps(index, indent=indent, separators=separators) + "\n"

    for name, text in files.items():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)


COMMANDS = {"tamper": tamper, "add-bom": add_bom, "windows-tar": windows_tar, "indexes": indexes}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
