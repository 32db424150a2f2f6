"""A GGUF file's header, read alone, and the memory a context window's KV cache needs.

:func:`gguf_header` reads the key-value pairs at the head of a GGUF file (v2 and later) without
its weights or vocabulary, bounded by the file's size; :func:`kv_shape` turns them into a KV cache's
cost per token, and :func:`check_window_fits` refuses a context window whose cache is larger than the
free memory before llama.cpp allocates anything (:func:`memory_message` explains one it failed to
allocate). A two-entry header, written by hand:

>>> import os, struct, tempfile
>>> def text(s): return struct.pack("<Q", len(s)) + s.encode()
>>> with tempfile.NamedTemporaryFile(suffix=".gguf", delete=False) as f:
...     _ = f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 2)  # version 3, no tensors, two pairs
...                 + text("general.architecture") + struct.pack("<I", 8) + text("llama")  # 8: a string
...                 + text("llama.block_count") + struct.pack("<II", 4, 30))  # 4: a uint32
>>> gguf_header(f.name)
{'general.architecture': 'llama', 'llama.block_count': 30}
>>> kv_shape(f.name) is None  # no head counts or embedding length: no estimate
True
>>> os.remove(f.name)
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass

from workbench.errors import ConfigError

#: Bytes of one KV cache element: llama.cpp's default cache type, f16.
KV_ELEMENT_BYTES = 2
GiB = 2**30


@dataclass(frozen=True)
class KVShape:
    """What one token of context costs in a model's KV cache, from its GGUF header."""

    layers: int
    bytes_per_token: int  # keys and values of every layer, f16
    trained: int | None  # the context length the model was trained for (``<arch>.context_length``)

    def bytes_for(self, window: int) -> int:
        return self.bytes_per_token * window


def _per_layer(value, layers: int) -> list[int]:
    """A header value given once for every layer, or as one value per layer."""
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value][:layers]
    return [int(value)] * layers


#: GGUF value types (gguf-py's GGUFValueType): struct formats of the fixed-size ones; 8 = string, 9 = array.
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
#: Longest numeric array kept (a value per layer); longer ones (token types, merges' scores) are skipped.
_GGUF_KEPT_ARRAY = 4096
#: The most header entries, or strings in one array, read (a vocabulary has a few hundred thousand).
_GGUF_MOST = 16_000_000


def gguf_header(path: str) -> dict[str, object]:
    """The GGUF header's key-value pairs (v2 and later): numbers, strings and short numeric arrays; long arrays
    (the vocabulary) skipped, not built. Reads only the header, bounded by the file's size; ValueError on a
    malformed one. (gguf's GGUFReader builds every token of the vocabulary: 30 s for Gemma's 262,144.)"""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        size, at = len(data), 0

        def take(fmt: str):
            nonlocal at
            width = struct.calcsize("<" + fmt)
            if at + width > size:
                raise ValueError("the header runs past the end of the file")
            value = struct.unpack_from("<" + fmt, data, at)[0]
            at += width
            return value

        def text() -> str:
            nonlocal at
            length = take("Q")
            if at + length > size:
                raise ValueError("a string runs past the end of the file")
            at += length
            return bytes(data[at - length:at]).decode("utf-8", errors="replace")

        magic, version = take("4s"), take("I")
        if magic != b"GGUF" or version < 2:
            raise ValueError("not a GGUF file of version 2 or later")
        take("Q")  # tensors
        pairs = take("Q")
        if pairs > _GGUF_MOST:
            raise ValueError(f"{pairs} header entries")
        header: dict[str, object] = {}
        for _ in range(pairs):
            key, kind = text(), take("I")
            if kind in _GGUF_SCALARS:
                header[key] = take(_GGUF_SCALARS[kind])
            elif kind == 8:
                header[key] = text()
            elif kind == 9:
                item, count = take("I"), take("Q")
                if item in _GGUF_SCALARS:
                    width = struct.calcsize("<" + _GGUF_SCALARS[item])
                    if at + count * width > size:
                        raise ValueError("an array runs past the end of the file")
                    if count <= _GGUF_KEPT_ARRAY:
                        header[key] = list(struct.unpack_from(f"<{count}{_GGUF_SCALARS[item]}", data, at))
                    at += count * width
                elif item == 8:
                    if count > _GGUF_MOST:
                        raise ValueError(f"an array of {count} strings")
                    length_at = struct.Struct("<Q").unpack_from
                    for _ in range(count):  # each string says its length: step over them
                        if at + 8 > size:
                            raise ValueError("an array runs past the end of the file")
                        at += 8 + length_at(data, at)[0]
                else:
                    raise ValueError(f"an array of GGUF type {item}")
            else:
                raise ValueError(f"GGUF value type {kind}")
            if at > size:
                raise ValueError("the header runs past the end of the file")
        return header


def kv_shape(path: str) -> KVShape | None:
    """The KV cache's cost per token from the GGUF header (no weights read); None where the header does not say.

    Per layer and token: ``head_count_kv x (key_length + value_length)`` elements (head sizes default to
    ``embedding_length / head_count``), f16; llama.cpp keeps every layer's cache at the full window
    (Gemma's sliding-window layers too: "using full-size SWA cache").
    """
    try:
        header = gguf_header(path)
        arch = header["general.architecture"]
        layers = int(header[f"{arch}.block_count"])
        heads = _per_layer(header[f"{arch}.attention.head_count"], layers)
        kv_heads = _per_layer(header.get(f"{arch}.attention.head_count_kv", heads), layers)
        embd = int(header[f"{arch}.embedding_length"])
        key = header.get(f"{arch}.attention.key_length")
        value = header.get(f"{arch}.attention.value_length")
        elements = sum(kv * ((int(key) if key else embd // h) + (int(value) if value else embd // h))
                       for kv, h in zip(kv_heads, heads, strict=True) if h)
        trained = header.get(f"{arch}.context_length")
        if layers < 1 or elements < 1:
            return None
        return KVShape(layers, elements * KV_ELEMENT_BYTES, int(trained) if trained else None)
    except Exception:  # an architecture without these keys (recurrent models), an odd header: no estimate
        return None


def available_memory() -> int | None:
    """Bytes of memory this process can still take: the kernel's MemAvailable, within a cgroup's limit."""
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:  # cgroup v2: a container's own limit
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        used -= _reclaimable("/sys/fs/cgroup/memory.stat")  # page cache (the mapped GGUF itself) can be freed
        if limit.isdigit():
            room = max(int(limit) - used, 0)
            free = room if free is None else min(free, room)
    except (OSError, ValueError):
        pass
    return free


def _reclaimable(stat_path: str) -> int:
    r"""Bytes of a cgroup's use the kernel can free for a new allocation: its inactive file cache (0 if unknown).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".stat", delete=False) as f:
    ...     _ = f.write("anon 100\ninactive_file 4096\nactive_file 5\n")
    >>> _reclaimable(f.name), _reclaimable("/no/such/file")
    (4096, 0)
    """
    try:
        with open(stat_path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "inactive_file":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _message(path: str, window: int, shape: KVShape, free: int | None) -> str:
    need = shape.bytes_for(window)
    what = (f"A context window of {window:,} tokens needs about {need / GiB:,.1f} GiB of memory for its KV cache "
            f"({shape.bytes_per_token:,} bytes per token over {shape.layers} layers, f16)")
    if free is None:
        return f"{what}, and llama.cpp could not allocate it; lower the context window."
    fits = free // shape.bytes_per_token if shape.bytes_per_token else 0
    trained = f"; {os.path.basename(path)} was trained for {shape.trained:,}" if shape.trained else ""
    room = (f"more than the {free / GiB:,.1f} GiB available" if need > free else
            f"and llama.cpp could not allocate it ({free / GiB:,.1f} GiB available)")
    return f"{what}, {room}; lower the context window (about {fits:,} tokens fit{trained})."


def check_window_fits(path: str, window: int) -> None:
    """Refuse, before llama.cpp allocates anything, a window whose KV cache is larger than the free memory."""
    shape = kv_shape(path)
    free = available_memory()
    if shape is not None and free is not None and shape.bytes_for(window) > free:
        raise ConfigError(_message(path, window, shape, free))


def memory_message(path: str, window: int) -> str | None:
    """Why llama.cpp could not allocate ``window``'s KV cache, in GiB; None where the header gives no estimate."""
    shape = kv_shape(path)
    return None if shape is None else _message(path, window, shape, available_memory())
