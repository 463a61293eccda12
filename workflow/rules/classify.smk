# Flare classification (issue 5): does a region produce a flare >= M1.0 within 24 h?
# Off unless config["classify"]["labels"] names a label source (a CSV path, or "hek").
# All logic is in `ffnn classify`; this rule only maps the config block onto its options.

import shlex

CLASSIFY_CONFIG = config.get("classify") or {}

# config key -> ffnn classify option; keys absent or null keep the command's defaults.
CLASSIFY_OPTIONS = {
    "labels": "--labels",
    "hek_cache": "--hek-cache",
    "features": "--features",
    "exclude": "--exclude",
    "categorical": "--categorical",
    "threshold_class": "--threshold-class",
    "probability_threshold": "--probability-threshold",
    "test_size": "--test-size",
    "seed": "--seed",
    "C": "--C",
    "solver": "--solver",
    "class_weight": "--class-weight",
    "imputer_strategy": "--imputer-strategy",
    "max_iter": "--max-iter",
    "label_tolerance": "--label-tolerance",
    "min_rows": "--min-rows",
    "on_insufficient": "--on-insufficient",
}


def classify_enabled():
    """True when the config names a label source, i.e. the classify stage should run."""
    return bool(CLASSIFY_CONFIG.get("labels"))


def classify_targets():
    """What rule all should request for this stage: results/classify/ when enabled."""
    return ["results/classify"] if classify_enabled() else []


def classify_label_input(wildcards):
    # A label CSV is a real input (edits rerun the stage); HEK labels come from a cache
    # that must survive reruns, so it is neither input nor output of the rule.
    labels = CLASSIFY_CONFIG.get("labels")
    if labels and str(labels).strip().lower() != "hek":
        return [labels]
    return []


def classify_args():
    """The config block as ffnn classify options, shell-quoted."""
    words = []
    for key, option in CLASSIFY_OPTIONS.items():
        if key not in CLASSIFY_CONFIG:
            continue
        value = CLASSIFY_CONFIG[key]
        if value is None:
            if key == "class_weight":
                words += [option, "none"]
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        words += [option, str(value)]
    return " ".join(shlex.quote(w) for w in words)


rule classify:
    input:
        summary="results/summary.tsv",
        labels=classify_label_input,
    output:
        directory("results/classify"),
    log:
        "logs/classify.log",
    benchmark:
        "benchmarks/classify.tsv"
    params:
        args=classify_args(),
    shell:
        "ffnn classify {input.summary:q} --out {output:q} {params.args} > {log:q} 2>&1"
