#!/usr/bin/env python3
"""Writes the small .npy fixtures of Tests/ShardDataTests/Fixtures with NumPy (run from the repository root).

Values are exact in binary (multiples of 1/8), so the tests can state them as decimals.
"""
import pathlib

import numpy as np

out = pathlib.Path("Tests/ShardDataTests/Fixtures")
out.mkdir(parents=True, exist_ok=True)
X = np.array([[0.5, -1.25, 3.0], [2.0, 0.125, -4.5], [1.0, 1.0, 1.0], [-0.375, 7.0, 2.25]])
y = np.array([0, 1, 1, 0])
np.save(out / "X_f8.npy", X)
np.save(out / "X_f4.npy", X.astype("<f4"))
np.save(out / "y_i8.npy", y.astype("<i8"))
np.save(out / "y_f4_column.npy", y.astype("<f4").reshape(-1, 1))
np.save(out / "y_b1.npy", y.astype(bool))
np.save(out / "Xy_f8.npy", np.column_stack([X, y]))
np.save(out / "y_short.npy", y[:3].astype("<f8"))
np.save(out / "X_fortran.npy", np.asfortranarray(X))
np.save(out / "X_big_endian.npy", X.astype(">f8"))
np.save(out / "X_object.npy", np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
np.save(out / "X_3d.npy", np.zeros((2, 2, 2)))
np.save(out / "X_nan.npy", np.array([[1.0, 2.0], [np.nan, 4.0]]))
(out / "X_truncated.npy").write_bytes((out / "X_f8.npy").read_bytes()[:-9])
(out / "X_bad_magic.npy").write_bytes(b"\x93NUMPX" + (out / "X_f8.npy").read_bytes()[6:])
