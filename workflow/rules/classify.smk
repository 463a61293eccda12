# Flare classification (issue 5): does a region produce a flare >= M1.0 within 24 h?
# Off unless config classify.labels names a label source (a CSV path, or "hek"); the
# helpers that map the config block onto `ffnn classify` options are in common.smk.


rule classify:
    input:
        summary="results/summary.tsv",
        labels=classify_label_input,
    output:
        directory("results/classify"),
    log:
        "logs/classify.log",
    benchmark:
        "results/benchmarks/classify.tsv"
    params:
        args=classify_args(),
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn classify {input.summary:q} --out {output:q} {params.args} > {log:q} 2>&1"
