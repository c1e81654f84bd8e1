"""The one njit decorator every CPU kernel uses, so options change in one place."""

import functools

import numba

from ... import config

njit = functools.partial(numba.njit, **config.NJIT_OPTIONS)
