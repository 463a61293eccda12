# Flare forecast (issue 14): P(flare >= M1.0 within 24 h) of a SHARP record from its
# keywords and flare history. classify fits and verifies the model on a keyword table with
# GOES labels (by default the 2010-2014 data shipped in ffnn/data/flares, offline);
# classify_predict scores the SHARP regions of the summary table with it, their flare
# history (and labels, where known) from the same GOES list; flare_events fetches the GOES
# list from HEK when config classify.events is "hek". Inputs: ffnn.pipeline.jobs.Jobs.


rule classify:
    input:
        table=JOBS.classify_table,
        events=JOBS.classify_events,
    output:
        model="results/classify/model.skops",
        skill=report(
            "results/classify/skill.tsv",
            caption="../report/classify_skill.rst",
            category="Flare forecast",
            labels={"table": "skill"},
        ),
        coefficients=report(
            "results/classify/coefficients.tsv",
            caption="../report/classify_coefficients.rst",
            category="Flare forecast",
            labels={"table": "coefficients"},
        ),
        reliability=report(
            "results/classify/reliability.png",
            caption="../report/classify_reliability.rst",
            category="Flare forecast",
            labels={"figure": "reliability diagram"},
        ),
        roc=report(
            "results/classify/roc.png",
            caption="../report/classify_roc.rst",
            category="Flare forecast",
            labels={"figure": "ROC curve"},
        ),
        predictions="results/classify/predictions.csv",
        metrics="results/classify/metrics.json",
    log:
        "logs/classify.log",
    benchmark:
        "results/benchmarks/classify.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        outdir=lambda wildcards, output: str(Path(output.model).parent),
        args=JOBS.classify_args,
    shell:
        "ffnn classify {input.table:q} --events {input.events:q} --outdir {params.outdir:q} "
        "{params.args} > {log:q} 2>&1"


rule classify_predict:
    input:
        model=rules.classify.output.model,
        table=rules.summary.output.tsv,
        events=JOBS.classify_events,
    output:
        report(
            "results/classify/regions/predictions.csv",
            caption="../report/classify_regions.rst",
            category="Flare forecast",
            labels={"table": "forecast of the regions"},
        ),
    log:
        "logs/classify_predict.log",
    benchmark:
        "results/benchmarks/classify_predict.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        outdir=lambda wildcards, output: str(Path(output[0]).parent),
    shell:
        "ffnn classify --predict --model {input.model:q} {input.table:q} --events {input.events:q} "
        "--outdir {params.outdir:q} > {log:q} 2>&1"


rule flare_events:
    input:
        table=JOBS.classify_table,
    output:
        config["classify"]["events_cache"],
    log:
        "logs/flare_events.log",
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        window=config["classify"]["window"],
    shell:
        "ffnn flare-events --table {input.table:q} --window {params.window:q} -o {output:q} "
        "> {log:q} 2>&1"
