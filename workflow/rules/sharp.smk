# SHARP regions of the region sheet: NOAA number + time -> SHARP record (resolve: at JSOC,
# or from the headers of the row's sharp_dir) and its FITS segments (fetch_sharp: the
# record resolve found; JSOC regions only). The bottom map is made by rule boundary
# (model.smk). The JSOC rules declare the custom resource jsoc=1 so that a profile can
# cap parallel JSOC requests.


rule resolve:
    input:
        JOBS.local_record_files,
    output:
        "results/{region}/resolve.json",
    log:
        "logs/{region}/resolve.log",
    benchmark:
        "results/{region}/benchmarks/resolve.tsv"
    wildcard_constraints:
        region=JOBS.patterns["sharp"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        jsoc=1,
    params:
        record=JOBS.record_args,
        jsoc=JOBS.jsoc_args,
    shell:
        "ffnn resolve {params.record} {params.jsoc} -o {output:q} > {log:q} 2>&1"


# The FITS files are not declared outputs: a failed or interrupted download keeps the
# complete ones, and the next attempt fetches only what is missing. sharp.json, written
# last, marks the record complete.
rule fetch_sharp:
    input:
        rules.resolve.output,
    output:
        record="results/{region}/sharp/sharp.json",
    log:
        "logs/{region}/fetch_sharp.log",
    benchmark:
        "results/{region}/benchmarks/fetch_sharp.tsv"
    wildcard_constraints:
        region=JOBS.patterns["jsoc"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
        jsoc=1,
    params:
        jsoc=JOBS.jsoc_args,
        email=JOBS.email_arg,
        outdir=lambda wildcards, output: str(Path(output.record).parent),
    shell:
        "ffnn fetch-sharp --record {input:q} {params.jsoc} {params.email} "
        "--outdir {params.outdir:q} > {log:q} 2>&1"
