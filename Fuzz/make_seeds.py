"""Writes the seed corpora of the fuzz targets into Corpus/<target>/.

Standard library only: `python3 make_seeds.py` (run from Fuzz/). The seeds
are small valid inputs of each reader; libFuzzer mutates them.
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "Corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, blob = {}, 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blob += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


linear = [("weight", "F32", [2, 2], f32(0.5, -1, 2, 0.25)), ("bias", "F32", [2], f32(1, -2))]
model_file = safetensors(linear, {"format": "pt"})
put("safetensors", "linear-f32", model_file)
put("safetensors", "linear-mixed-dtypes", safetensors([
    ("weight", "F16", [2, 2], struct.pack("<4e", 0.5, -1, 2, 0.25)),
    ("bias", "BF16", [2], b"\x80\x3f\x00\xc0"),
    ("counter", "I64", [], struct.pack("<q", 7)),
]))
put("safetensors", "empty-tensor", safetensors([("weight", "F32", [0, 2], b""), ("bias", "F32", [2], f32(0, 0))]))

put("safetensors-header", "linear", model_file[8:8 + struct.unpack("<Q", model_file[:8])[0]])
put("safetensors-header", "metadata-only", b'{"__metadata__":{"format":"pt","a":"b"}}')
put("safetensors-header", "one-u8", b'{"x":{"dtype":"U8","shape":[4,4,4],"data_offsets":[0,64]}}')

images = bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 64, 128, 255])
labels = bytes([0, 0, 8, 1, 0, 0, 0, 1, 7])
put("idx", "images", b"\x00" + images)
put("idx", "images-gz", b"\x00" + gzip.compress(images, mtime=0))
put("idx", "labels", b"\x01" + labels)
put("idx", "labels-gz", b"\x01" + gzip.compress(labels, mtime=0))
put("idx", "images-two-members-gz", b"\x00" + gzip.compress(images[:9], mtime=0) + gzip.compress(images[9:], mtime=0))

rows = b"0,255,3\n12.5,1e-2,9\r\n\n7,8,1\n"
put("csv", "label-last", b"\x00" + rows)
put("csv", "label-first-header", b"\x03" + b"label,a,b\n3,0.5,1\n4,2,3\n")
put("csv", "class-count-gz", b"\x04" + gzip.compress(rows, mtime=0))

rng = {"strata.rng.global": "9e3779b97f4a7c15,1,2,3"}
common = {"format": "pt", "strata.checkpoint": "1", "strata.epoch": "3", "strata.step": "30",
          "strata.scheduler.last_epoch": "3", **rng}
model_keys = [("model." + n, d, s, r) for n, d, s, r in linear]
put("checkpoint", "sgd", safetensors(model_keys + [
    ("optimizer.0.momentum_buffer", "F32", [2, 2], f32(0.1, 0.2, 0.3, 0.4)),
    ("optimizer.1.momentum_buffer", "F32", [2], f32(-0.1, -0.2)),
], {**common, "strata.optimizer": "SGD", "strata.learning_rate": "0.05"}))
put("checkpoint", "adam", safetensors(model_keys + [
    ("optimizer.0.exp_avg", "F32", [2, 2], f32(0.1, 0.2, 0.3, 0.4)),
    ("optimizer.0.exp_avg_sq", "F32", [2, 2], f32(0.01, 0.02, 0.03, 0.04)),
    ("optimizer.0.step", "F32", [], f32(5)),
    ("optimizer.1.exp_avg", "F32", [2], f32(-0.1, -0.2)),
    ("optimizer.1.exp_avg_sq", "F32", [2], f32(0.01, 0.02)),
    ("optimizer.1.step", "F32", [], f32(5)),
], {**common, "strata.optimizer": "Adam", "strata.learning_rate": "0.001"}))
put("checkpoint", "sgd-groups-scheduler", safetensors(model_keys + [
    ("optimizer.0.momentum_buffer", "F32", [2, 2], f32(0.1, 0.2, 0.3, 0.4)),
    ("optimizer.1.momentum_buffer", "F32", [2], f32(-0.1, -0.2)),
], {**common, "strata.optimizer": "SGD", "strata.learning_rate": "0.05", "strata.optimizer.groups": "1",
    "strata.optimizer.group.0.params": "2", "strata.optimizer.group.0.lr": "0.05",
    "strata.optimizer.group.0.initial_lr": "0.1", "strata.optimizer.group.0.weight_decay": "0",
    "strata.optimizer.group.0.momentum": "0.9", "strata.optimizer.group.0.dampening": "0",
    "strata.scheduler": "StepLR"}))
put("checkpoint", "model-only", safetensors(model_keys, {
    "format": "pt", "strata.checkpoint": "1", "strata.epoch": "0", "strata.step": "0", **rng}))
