#!/usr/bin/env python3
"""Random-block test vectors for Q2_K, Q3_K, IQ4_NL, IQ4_XS and MXFP4, dequantized by ggml's reference (gguf-py).

Writes tests/fixtures/quant-random-blocks.gguf (about 190 KiB): for each type T, `w.T` (16 rows of 512 values:
random bytes with every scale finite) and `w.T.deq` (gguf.quants.dequantize of it, F32). Random bytes reach every
scale, sub-scale and quant pattern, which the real-weight vectors in shared/models/quant-testvectors.gguf do not;
MXFP4 is not in that file at all. tests/gpu/quant-random.test.ts reads the fixture; CI needs no Python.

Run once, with gguf==0.19.0 and numpy:  python3 scripts/make-quant-vectors.py
"""

import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

ROWS, COLS = 16, 512
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'quant-random-blocks.gguf')

# type -> byte offsets of its f16 scales within a block (each forced finite)
F16_FIELDS = {
    T.Q2_K: (80, 82),  # d, dmin
    T.Q3_K: (108,),  # d
    T.IQ4_NL: (0,),  # d
    T.IQ4_XS: (0,),  # d
    T.MXFP4: (),  # e: one E8M0 byte, set below
}


def finite_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random f16 bit patterns, every exponent but 31 (inf/NaN): subnormals, zero and both signs included."""
    bits = rng.integers(0, 0x10000, n, dtype=np.uint32)
    exponent = rng.integers(0, 31, n, dtype=np.uint32)
    return ((bits & 0x83FF) | (exponent << 10)).astype(np.uint16)


def random_blocks(rng: np.random.Generator, qtype: T) -> np.ndarray:
    """(ROWS, row bytes) uint8: random blocks of qtype whose dequantized values are all finite."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n = ROWS * COLS // block_size
    blocks = rng.integers(0, 256, (n, type_size), dtype=np.uint8)
    for at in F16_FIELDS[qtype]:
        blocks[:, at:at + 2] = finite_f16(rng, n).view(np.uint8).reshape(n, 2)
    if qtype == T.MXFP4:
        # e -> 2^(e - 128); e = 253 and up overflow 12 * 2^(e - 128) to inf, so 0..252 (subnormal scales included).
        blocks[:, 0] = rng.integers(0, 253, n, dtype=np.uint8)
    return blocks.reshape(ROWS, COLS // block_size * type_size)


def main() -> None:
    rng = np.random.default_rng(20240616)
    writer = GGUFWriter(OUT, 'quant-random-blocks')
    for name, qtype in [('q2_K', T.Q2_K), ('q3_K', T.Q3_K), ('iq4_nl', T.IQ4_NL), ('iq4_xs', T.IQ4_XS), ('mxfp4', T.MXFP4)]:
        raw = random_blocks(rng, qtype)
        deq = dequantize(raw, qtype).astype(np.float32)
        assert deq.shape == (ROWS, COLS) and np.isfinite(deq).all(), name
        writer.add_tensor(f'w.{name}', raw, raw_shape=raw.shape, raw_dtype=qtype)
        writer.add_tensor(f'w.{name}.deq', deq)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(OUT, os.path.getsize(OUT), 'bytes')


if __name__ == '__main__':
    main()
