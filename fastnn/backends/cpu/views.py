"""Array views of flat buffers, built directly: `reshape` in nopython mode would compile its
error-message path (string formatting: about 3 s of a cold start) into every kernel using it.

The callers size their buffers (see loop.py's workspace), so these views check no bounds.
"""

from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _view(context, builder, src_type, src, start, shape, out_type):
    """An out_type array struct over src's data from element `start`, C-contiguous with `shape`."""
    array = make_array(src_type)(context, builder, src)
    out = make_array(out_type)(context, builder)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(src_type.dtype)))
    strides, stride = [], itemsize
    for extent in reversed(shape):
        strides.insert(0, stride)
        stride = builder.mul(stride, extent)
    populate_array(out, data=builder.gep(array.data, [start]), shape=cgutils.pack_array(builder, shape),
                   strides=cgutils.pack_array(builder, strides), itemsize=itemsize, meminfo=array.meminfo,
                   parent=array.parent)
    return impl_ret_borrowed(context, builder, out_type, out._getvalue())


@intrinsic
def matrix(typingctx, buf, start, rows, cols):
    """buf[start:start + rows * cols] as a (rows, cols) C-contiguous array (buf: a 1-D C array)."""
    out_type = types.Array(buf.dtype, 2, "C")

    def codegen(context, builder, sig, args):
        index = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:])]
        return _view(context, builder, sig.args[0], args[0], index[0], index[1:], out_type)
    return out_type(buf, start, rows, cols), codegen


@intrinsic
def vector(typingctx, buf, start, size):
    """buf[start:start + size] (buf: a 1-D C array), without the slicing code Numba would compile."""
    out_type = types.Array(buf.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        index = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:])]
        return _view(context, builder, sig.args[0], args[0], index[0], index[1:], out_type)
    return out_type(buf, start, size), codegen


@intrinsic
def flat(typingctx, a):
    """A 2-D C-contiguous array as 1-D, same memory."""
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"):
        return None
    out_type = types.Array(a.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        array = make_array(sig.args[0])(context, builder, args[0])
        size = builder.mul(*cgutils.unpack_tuple(builder, array.shape, 2))
        return _view(context, builder, sig.args[0], args[0], context.get_constant(types.intp, 0), [size], out_type)
    return out_type(a), codegen
