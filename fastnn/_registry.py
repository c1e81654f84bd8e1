"""Name -> object lookup shared by activations, losses, optimizers, metrics and regularizers."""


def lookup(kind, value, table, base, allow_none=False):
    """Resolve a string alias or an instance of `base`; raise a Keras-style error otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, base):
        return value
    if isinstance(value, str):
        key = value.lower()
        if key in table:
            return table[key]()
        raise ValueError(f"Unknown {kind}: {value!r}. Expected one of {sorted(table)} "
                         f"or {_article(base.__name__)} {base.__name__} instance.")
    raise TypeError(f"Expected {kind} to be a string or {_article(base.__name__)} {base.__name__} instance. "
                    f"Received: {kind}={value!r} of type {type(value).__name__}")


def _article(word):
    return "an" if word[0].lower() in "aeiou" else "a"
