#!/usr/bin/python3
"""Compact copies of posterior files (advdiff_archive.py) as plain text, and back.

    /usr/bin/python3 postprocess/advdiff_text.py dump OUTDIR COPY.h5 [COPY.h5 ...]
    /usr/bin/python3 postprocess/advdiff_text.py load OUTDIR COPY.json [COPY.json ...]

`dump` writes OUTDIR/<name>.json for each compact copy <name>.h5; `load` writes the HDF5 copy back
(OUTDIR/<name>.h5). The text holds every group, attribute and dataset of the copy with its dtype
and shape; numbers are written in the shortest form that reads back to the same bits, so
load(dump(copy)) equals the copy value for value. A sweep's results can then live where binary
files may not (a git repository: one cell is about 100 KB of text) and the figures and summary
table are drawn from the text directly:
    /usr/bin/python3 postprocess/advdiff_posterior.py FIGDIR results/recipe/*.post.json
Only compact copies are taken (root attribute `archive_rows`): a full posterior file with its
samples is MB of numbers; archive it first. Each output goes to NAME.partial and is renamed.

Format (version 1): a JSON object {"format": "pdediff-archive-text", "version": 1, "name": the
copy's file name, "objects": [...]}, one object per line, each {"path", "kind": "group" |
"dataset", "attrs": {name: value}} and for a dataset "dtype" (numpy's dtype.str), "shape",
"data" (row-major, flat). An attribute value is {"str": s} (variable-length string), {"bytes": s}
(fixed-length string) or {"dtype", "shape", "data"} (numbers).
"""
import io
import json
import os
import sys

import h5py
import numpy as np

FORMAT, VERSION = "pdediff-archive-text", 1


def fail(msg):
    sys.exit("advdiff_text: " + msg)


def atomic(out, write):
    """write(tmp) to out + ".partial", renamed to out only when it finished: no half file under out"""
    tmp = out + ".partial"
    try:
        write(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, out)


def encode_value(v, what):
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, (bytes, np.bytes_)):
        return {"bytes": bytes(v).decode("utf-8")}
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        fail(f"{what}: values of dtype {a.dtype} have no text form here; this script writes numbers and strings only")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": a.ravel().tolist()}


def decode_value(e, what):
    if "str" in e:
        return e["str"]
    if "bytes" in e:
        return np.bytes_(e["bytes"].encode("utf-8"))
    a = np.array(e["data"], dtype=np.dtype(e["dtype"]))
    if a.size != int(np.prod(e["shape"], dtype=int)):
        raise ValueError(f"{what}: {a.size} values for shape {e['shape']}")
    a = a.reshape(e["shape"])
    return a[()] if a.ndim == 0 else a


def objects(f):
    """the copy as a list of text objects: the root group first, then every member in name order"""
    out = [{"path": "/", "kind": "group", "attrs": {k: encode_value(v, f"/ attribute {k}") for k, v in sorted(f.attrs.items())}}]

    def visit(name, obj):
        attrs = {k: encode_value(v, f"{name} attribute {k}") for k, v in sorted(obj.attrs.items())}
        if isinstance(obj, h5py.Group):
            out.append({"path": name, "kind": "group", "attrs": attrs})
        else:
            d = encode_value(obj[()], name)
            out.append({"path": name, "kind": "dataset", "attrs": attrs, **d})
    f.visititems(visit)
    return out


def dump(path, outdir):
    name = os.path.basename(path)
    stem = name[:-3] if name.endswith(".h5") else name
    out = os.path.join(outdir, stem + ".json")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: not a readable HDF5 file ({e})")
    with f:
        if "archive_rows" not in f.attrs:
            fail(f"{path}: not a compact copy (no attribute archive_rows); make one first with "
                 f"postprocess/advdiff_archive.py OUTDIR {path}")
        objs = objects(f)
    def write(tmp):
        with open(tmp, "w") as t:
            t.write('{"format": "%s", "version": %d, "name": %s, "objects": [\n' % (FORMAT, VERSION, json.dumps(name)))
            t.write(",\n".join(json.dumps(o) for o in objs))
            t.write("\n]}\n")
    atomic(out, write)
    print(f"advdiff_text: {path} ({os.path.getsize(path) / 1024:.0f} KB) -> {out} ({os.path.getsize(out) / 1024:.0f} KB of text, {len(objs)} objects)")
    return out


def read_doc(path):
    try:
        with open(path) as t:
            doc = json.load(t)
    except (OSError, ValueError) as e:
        fail(f"{path}: not a readable text copy ({e}); write it again with advdiff_text.py dump")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fail(f"{path}: not a pdediff text copy (format {doc.get('format') if isinstance(doc, dict) else None!r}, expected {FORMAT})")
    if doc.get("version") != VERSION:
        fail(f"{path}: text copy version {doc.get('version')}; this script reads version {VERSION}")
    return doc


def fill(g, doc, path):
    """the HDF5 copy from the text document, into the open, empty file g"""
    try:
        for o in doc["objects"]:
            p = o["path"]
            if o["kind"] == "group":
                grp = g if p == "/" else g.require_group(p)
            elif o["kind"] == "dataset":
                grp = g.create_dataset(p, data=decode_value(o, p))
            else:
                raise ValueError(f"object {p}: kind {o['kind']!r}")
            for k, v in o["attrs"].items():
                grp.attrs[k] = decode_value(v, f"{p} attribute {k}")
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{path}: damaged text copy ({type(e).__name__}: {e}); write it again with advdiff_text.py dump")


def open_text(path):
    """the text copy at path as an in-memory, read-only-by-convention h5py.File, and the copy's name"""
    doc = read_doc(path)
    g = h5py.File(io.BytesIO(), "w")
    fill(g, doc, path)
    return g, doc.get("name", os.path.basename(path))


def open_post(path):
    """a posterior file, its compact copy or a text copy (.json): (h5py.File, name for tables)"""
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    if path.endswith(".json"):
        return open_text(path)
    try:
        return h5py.File(path, "r"), os.path.basename(path)
    except OSError as e:
        fail(f"{path}: not a readable HDF5 file ({e})")


def load(path, outdir):
    doc = read_doc(path)
    out = os.path.join(outdir, os.path.basename(doc.get("name") or os.path.basename(path)[:-5] + ".h5"))
    if os.path.abspath(out) == os.path.abspath(path):
        fail(f"{path}: the output would overwrite the input; choose another OUTDIR")
    def write(tmp):
        with h5py.File(tmp, "w") as g:
            fill(g, doc, path)
    atomic(out, write)
    print(f"advdiff_text: {path} -> {out}")
    return out


def main(argv):
    if len(argv) < 3 or argv[0] not in ("dump", "load"):
        sys.exit(__doc__)
    what, outdir, paths = argv[0], argv[1], argv[2:]
    for p in paths:
        if not os.path.exists(p):
            fail(f"{p}: no such file")
    os.makedirs(outdir, exist_ok=True)
    for p in paths:
        (dump if what == "dump" else load)(p, outdir)


if __name__ == "__main__":
    main(sys.argv[1:])
