"""Optional opponents for compare.py: PyTorch on the CPU (eager) and JAX (the whole epoch under lax.scan).

Each is used only when importable. Both train the same network from the same weights with
Adam (Keras's epsilon 1e-7) and softmax cross-entropy on logits, fused as fastnn fuses it.
"""

import importlib.util

import numpy as np

OPTIONAL = ("torch", "jax")
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


def available():
    """The optional opponents importable in this environment."""
    return [name for name in OPTIONAL if importlib.util.find_spec(name) is not None]


def _torch_model(weights):
    import torch
    pairs = list(zip(weights[::2], weights[1::2]))
    stack = []
    for k, (w, b) in enumerate(pairs):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            linear.bias.copy_(torch.from_numpy(b))
        stack.append(linear)
        if k < len(pairs) - 1:
            stack.append(torch.nn.ReLU())
    return torch.nn.Sequential(*stack)


def torch_epoch_fn(x, y, batch_size, weights, seed=0, device="cpu"):
    """One shuffled epoch of eager PyTorch training per call (device "cuda": data and model on the GPU, the
    call returning when the GPU is done)."""
    import torch
    model = _torch_model(weights).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(B1, B2), eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    gen = torch.Generator().manual_seed(seed)

    def run():
        perm = torch.randperm(len(xt), generator=gen).to(device)
        for start in range(0, len(xt), batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt.index_select(0, idx)), yt.index_select(0, idx)).backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
    return run


def torch_predict_fn(x, batch_size, weights):
    """Softmax outputs over x in batches, under inference_mode."""
    import torch
    model, xt = _torch_model(weights), torch.from_numpy(x)

    def run():
        with torch.inference_mode():
            return torch.cat([torch.softmax(model(xt[s:s + batch_size]), 1) for s in range(0, len(xt), batch_size)])
    return run


def _jax_parts(weights):
    import jax
    import jax.numpy as jnp
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(weights[::2], weights[1::2])]

    def logits(params, xb):
        h = xb
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        return h @ w + b

    def loss(params, xb, yb):
        z = logits(params, xb)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, yb[:, None], axis=1)[:, 0])

    def step(state, batch):
        params, m, v, t = state
        g = jax.grad(loss)(params, *batch)
        t = t + 1
        alpha = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - B1), m, g)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - B2), v, g)
        params = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + EPS), params, m, v)
        return (params, m, v, t), None

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return (params, zeros, zeros, jnp.float32(0)), logits, step


def jax_epoch_fn(x, y, batch_size, weights, seed=0):
    """One shuffled epoch per call: the full batches in one jitted lax.scan, the last partial batch after it."""
    import jax
    import jax.numpy as jnp
    state, _, step = _jax_parts(weights)
    n, steps = len(x), len(x) // batch_size
    xj, yj = jnp.asarray(x), jnp.asarray(y.astype(np.int32))

    @jax.jit
    def full_batches(state, perm):
        idx = perm[:steps * batch_size].reshape(steps, batch_size)
        return jax.lax.scan(step, state, (xj[idx], yj[idx]))[0]

    tail = jax.jit(step)
    rng = np.random.default_rng(seed)
    holder = [state]

    def run():
        perm = jnp.asarray(rng.permutation(n).astype(np.int32))
        s = full_batches(holder[0], perm) if steps else holder[0]
        if n % batch_size:
            rest = perm[steps * batch_size:]
            s = tail(s, (xj[rest], yj[rest]))[0]
        holder[0] = jax.block_until_ready(s)
    return run


def jax_predict_fn(x, batch_size, weights):
    """Softmax outputs over x in batches of a jitted forward pass."""
    import jax
    import jax.numpy as jnp
    state, logits, _ = _jax_parts(weights)
    forward = jax.jit(lambda params, xb: jax.nn.softmax(logits(params, xb), axis=1))
    xj = jnp.asarray(x)
    return lambda: jax.block_until_ready([forward(state[0], xj[s:s + batch_size])
                                          for s in range(0, len(x), batch_size)])


def epoch_fn(impl, x, y, batch_size, weights, seed=0):
    """The epoch callable of optional opponent `impl` ("torch" or "jax")."""
    return {"torch": torch_epoch_fn, "jax": jax_epoch_fn}[impl](x, y, batch_size, weights, seed)


def predict_fn(impl, x, batch_size, weights):
    """The predict callable of optional opponent `impl`."""
    return {"torch": torch_predict_fn, "jax": jax_predict_fn}[impl](x, batch_size, weights)
