"""Worker process of the model-file fuzz suite (tests/test_model_file_fuzz.py).

Reads one JSON request per line on stdin: {"path": model file, "users": [...], "items": [...]}.
Loads the file with crossrec.load and, when it loads, uses the model (recommend, recommend over
candidates, predict, similar_items). Writes one JSON line per request:
{"outcome": "rejected" | "ok" | "error", "detail": ...}. A crash kills only this process; the
parent sees the pipe close and records it.
"""

import json
import sys
import warnings


def handle(cr, request):
    try:
        model = cr.load(request["path"])
    except cr.ModelFileError as exc:
        return {"outcome": "rejected", "detail": str(exc)[:300]}
    except Exception as exc:  # noqa: BLE001 - anything else is the finding we report
        return {"outcome": "error", "detail": f"load: {type(exc).__name__}: {exc}"[:300]}
    users, items = request["users"], request["items"]
    steps = [
        ("recommend", lambda: model.recommend(users, n=3)),
        ("recommend(items=)", lambda: model.recommend(users[:1], n=2, items=items, exclude_seen=False)),
        ("predict", lambda: model.predict(users[:1] * len(items), items)),
        ("similar_items", lambda: model.similar_items(items[:1], n=2)),
    ]
    for name, step in steps:
        try:
            step()
        except NotImplementedError:  # ranking-only model, or no item representation
            continue
        except Exception as exc:  # noqa: BLE001
            return {"outcome": "error", "detail": f"{name}: {type(exc).__name__}: {exc}"[:300]}
    return {"outcome": "ok", "detail": ""}


def main():
    import crossrec as cr

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        reply = handle(cr, json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
