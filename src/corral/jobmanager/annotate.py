"""Annotations: recursive merges where JSON null deletes a key (RFC 21 ``annotations``)."""


def merge_annotations(current: dict | None, update: dict) -> dict | None:
    """Merge ``update`` into a copy of ``current``; an empty result is None (cleared)."""
    merged = dict(current) if current else {}
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_annotations(merged[key], value) or None
            if merged[key] is None:
                del merged[key]
        elif isinstance(value, dict):
            cleaned = merge_annotations(None, value)
            if cleaned is not None:
                merged[key] = cleaned
        else:
            merged[key] = value
    return merged or None
