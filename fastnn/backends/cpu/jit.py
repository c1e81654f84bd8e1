"""The decorators of the CPU kernels, so compile options change in one place, and the kernel registry.

`njit` marks an entry point that Python calls. `kernel("F2 i b -> d")` marks a function that the
loop calls: it is compiled (and cached) on its own, without the CPython and C-callable wrappers,
for the argument kinds given (ARGUMENT_KINDS; after "->" what it returns, if anything), and its
callers call its machine code through a slot, a pointer-sized cell holding its address (see
`_call_by_address`). Numba would otherwise link a copy of every kernel into every caller and
optimise and emit machine code for it again there; called through a slot, each kernel compiles
once, and since the declared kinds type a call without compiling the kernel, compiling.py compiles
the kernels and the loop at once in several processes, and only the kernels a model uses before
its first batch. A slot whose kernel is not loaded holds a trap that raises RuntimeError.

`inlined` marks a helper whose body Numba inlines into its callers (Numba IR): small helpers,
and dispatchers that only pick a kernel by a code. A kernel may call inlined helpers and
intrinsics, never another kernel (its cached code would need that kernel loaded first).

Each kernel's and helper's `.py` is a twin that Python can call (tests and benchmarks use it):
compiled on its first call and never cached, since Numba's cache files would not tell the two apart.
"""

import ctypes
import functools
import hashlib
import inspect

import llvmlite.binding as ll
import numba
import numpy as np
from numba.core import cgutils, errors, types
from numba.extending import intrinsic

from ... import config

njit = functools.partial(numba.njit, no_cfunc_wrapper=True, **config.NJIT_OPTIONS)

# What each letter of a kernel's signature stands for: "F" arrays hold the network's float type
# (float32 or float64), "D" float64, "I" int64, "J" int32; the digit is the number of dimensions.
ARGUMENT_KINDS = {"F1": "float 1", "F2": "float 2", "D1": "float64 1", "D2": "float64 2", "I1": "int64 1",
                  "I2": "int64 2", "J1": "int32 1", "f": "float", "d": "float64", "i": "int64", "b": "bool"}

KERNELS = []  # every `kernel`, in definition order
_HELPERS = []  # every `inlined` helper (their code is part of abi())


def argument_types(kinds, float_type):
    """Numba types for a kernel's argument kinds in a network of float_type (numba.float32 or float64)."""
    out = []
    for kind in kinds:
        name, *ndim = ARGUMENT_KINDS[kind].split()
        scalar = float_type if name == "float" else numba.from_dtype(np.dtype(name))
        out.append(types.Array(scalar, int(ndim[0]), "C") if ndim else scalar)
    return tuple(out)


def symbol(compiled, float_type):
    """The name a kernel's machine code for float_type is known by to its callers."""
    fn = compiled.py_func
    return f"fastnn.{fn.__module__}.{fn.__qualname__}.{float_type}"


def declared(call, float_type):
    """A kernel's signature for float_type, as its kinds declare it."""
    result = argument_types([call.returns], float_type)[0] if call.returns else types.none
    return result(*argument_types(call.kinds, float_type))


_slots = {}  # (kernel, float type) -> its slot: a ctypes cell holding the kernel's address, or the trap's
_published = set()  # (kernel, float type) whose slot holds the kernel's address in this process


def _own_float(call, float_type):
    """The float type a kernel is compiled and called for in a network of float_type: float64 when none of its
    arguments has the network's float type (its callers type the call so: see _call_by_address)."""
    return float_type if any(k[0] in "Ff" for k in call.kinds) else types.float64


def slot(call, float_type):
    """The cell a kernel's callers read its address from (registered as symbol(), holding the trap until
    publish() loads the kernel)."""
    float_type = _own_float(call, float_type)
    key = (call, float_type)
    if key not in _slots:
        _slots[key] = ctypes.c_void_p(_address(_not_loaded, ()))
        ll.add_symbol(symbol(call.compiled, float_type), ctypes.addressof(_slots[key]))
    return _slots[key]


def publish(call, float_type):
    """Compile (or load) a kernel for float_type and put its address in its slot."""
    float_type = _own_float(call, float_type)
    if (call, float_type) in _published:
        return
    sig = declared(call, float_type)
    address = _address(call.compiled, sig.args)
    returns = call.compiled.overloads[sig.args].signature.return_type
    if returns != sig.return_type:
        raise TypeError(f"fastnn internal error: kernel {call.__name__} returns {returns}, but its kinds declare "
                        f"{sig.return_type}")
    slot(call, float_type).value = address
    _published.add((call, float_type))


def published(call, float_type):
    """True when the kernel's slot holds its code in this process."""
    return (call, _own_float(call, float_type)) in _published


def _address(dispatcher, args):
    """The machine-code address of dispatcher's compiled (or cached) code for args."""
    dispatcher.compile(args)
    cres = dispatcher.overloads[args]
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)


def kernel(signature):
    """Compile the decorated function on its own for arguments of these kinds; callers call it by address."""
    kinds, _, returns = signature.partition("->")
    kinds, returns = kinds.split(), returns.strip() or None
    unknown = [k for k in kinds + [returns] if k is not None and k not in ARGUMENT_KINDS]
    if unknown:
        raise ValueError(f"Unknown argument kinds {unknown}: expected some of {list(ARGUMENT_KINDS)}")

    def decorate(fn):
        compiled = numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **config.NJIT_OPTIONS)(fn)

        def typer(typingctx, *args):
            return _call_by_address(call, args)
        for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
            setattr(typer, attr, getattr(fn, attr))
        params = inspect.signature(fn).parameters.values()  # Numba binds call arguments by it
        typer.__signature__ = inspect.Signature([inspect.Parameter("typingctx", inspect.Parameter.POSITIONAL_ONLY),
                                                 *params])
        call = intrinsic(typer)
        call.compiled, call.kinds, call.returns = compiled, kinds, returns
        call.py = numba.njit(**{**config.NJIT_OPTIONS, "cache": False})(fn)
        KERNELS.append(call)
        return call
    return decorate


def _call_by_address(call, args):
    """Typing and code of a call to a kernel's machine code, through its slot, with Numba's calling convention."""
    args = tuple(types.unliteral(a) for a in args)
    floats = [getattr(a, "dtype", a) for a, k in zip(args, call.kinds) if k[0] in "Ff"]
    float_type = floats[0] if floats and floats[0] in (types.float32, types.float64) else types.float64
    expected = argument_types(call.kinds, float_type)
    if args != expected:
        raise errors.TypingError(f"{call.__name__} takes ({', '.join(map(str, expected))}); "
                                 f"called with ({', '.join(map(str, args))})")
    slot(call, float_type)  # the symbol must resolve when the caller's code loads
    sig, name = declared(call, float_type), symbol(call.compiled, float_type)

    def codegen(context, builder, sig, llargs):
        fnty = context.call_conv.get_function_type(sig.return_type, sig.args)
        try:
            cell = builder.module.get_global(name)
        except KeyError:
            cell = cgutils.add_global_variable(builder.module, fnty.as_pointer(), name)  # external: the slot
        status, out = context.call_conv.call_function(builder, builder.load(cell), sig.return_type, sig.args,
                                                      llargs)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return out
    return sig, codegen


@numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, cache=True)
def _not_loaded():
    """What an empty slot calls: an error instead of a jump to nowhere. (Any kernel's caller may call it: it
    reads none of the arguments, which the C calling conventions let a callee ignore.)"""
    raise RuntimeError("fastnn internal error: compiled code called a kernel that was not loaded")


def inlined(fn):
    """A helper whose body Numba inlines into every caller; fn.py calls it from Python."""
    dispatcher = numba.njit(inline="always", **config.NJIT_OPTIONS)(fn)
    twin = numba.njit(**{**config.NJIT_OPTIONS, "cache": False})(fn)

    def py(*args):
        """The twin, after loading every kernel it may call for the float types of its arguments."""
        for dtype in {a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"}:
            for call in KERNELS:
                publish(call, numba.from_dtype(dtype))
        return twin(*args)
    dispatcher.py = py
    _HELPERS.append(fn)
    return dispatcher


def abi():
    """A fingerprint of every kernel's and helper's code and argument kinds, and of the code making the calls.

    The loop's entry points close over it (loop.py), and Numba keys its cache on closure values:
    so a cached loop never calls kernels whose code or arguments have changed since it was compiled.
    """
    digest = hashlib.sha256()
    for fn in [k.compiled.py_func for k in KERNELS] + _HELPERS + [_call_by_address]:  # (how calls are made, too)
        digest.update(f"{fn.__module__}.{fn.__qualname__}".encode())
        _hash_code(digest, fn.__code__)
    for k in KERNELS:
        digest.update(f"{k.kinds} {k.returns}".encode())
    return int(digest.hexdigest()[:15], 16) | 1


def _hash_code(digest, code):
    """Add a code object's bytecode, names and constants (nested code objects alike) to digest."""
    digest.update(code.co_code + repr(code.co_names).encode())
    for const in code.co_consts:
        if inspect.iscode(const):
            _hash_code(digest, const)
        else:
            digest.update(repr(const).encode())
