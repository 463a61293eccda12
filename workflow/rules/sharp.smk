# SHARP regions of the region sheet: NOAA number + time -> SHARP record (resolve: at JSOC,
# or from the headers of the row's sharp_dir), its FITS segments (fetch_sharp: the record
# resolve found; JSOC regions only), the bottom map (boundary). The JSOC rules declare the
# custom resource jsoc=1 so that a profile can cap parallel JSOC requests.


rule resolve:
    input:
        local_record_files,
    output:
        "results/{region}/resolve.json",
    wildcard_constraints:
        region=SHARP_RE,
    params:
        record=record_args,
        jsoc=jsoc_args,
    log:
        "logs/{region}/resolve.log",
    benchmark:
        "results/{region}/benchmarks/resolve.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        jsoc=1,
    conda:
        "../../environment.yml"
    shell:
        "ffnn resolve {params.record} {params.jsoc} --json {output:q} > {log:q} 2>&1"


# The FITS files are not declared outputs: a failed or interrupted download keeps the
# complete ones, and the next attempt fetches only what is missing. sharp.json, written
# last, marks the record complete.
rule fetch_sharp:
    input:
        "results/{region}/resolve.json",
    output:
        record="results/{region}/sharp/sharp.json",
    wildcard_constraints:
        region=JSOC_RE,
    params:
        jsoc=jsoc_args,
        email=email_arg,
        outdir=lambda wildcards, output: str(Path(output.record).parent),
    log:
        "logs/{region}/fetch_sharp.log",
    benchmark:
        "results/{region}/benchmarks/fetch_sharp.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
        jsoc=1,
    conda:
        "../../environment.yml"
    shell:
        "ffnn fetch-sharp --record {input:q} {params.jsoc} {params.email} "
        "--out {params.outdir:q} --json {output.record:q} > {log:q} 2>&1"


rule boundary:
    input:
        unpack(boundary_input),
    output:
        "results/{region}/boundary.nc",
    wildcard_constraints:
        region=SHARP_RE,
    params:
        directory=sharp_files,
        args=sharp_boundary_args,
    log:
        "logs/{region}/boundary.log",
    benchmark:
        "results/{region}/benchmarks/boundary.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn boundary {params.directory:q} --record {input.record:q} -o {output:q} "
        "{params.args} > {log:q} 2>&1"
