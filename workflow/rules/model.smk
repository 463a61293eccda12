# Rules of every region: the bottom map (from the SHARP record, or the Low & Lou
# reference; optionally preprocessed), the potential field, training, the model cube, and
# how far to trust it (quality.json, height profiles).


rule boundary:
    input:
        unpack(JOBS.boundary_input),
    output:
        "results/{region}/boundary.nc",
    log:
        "logs/{region}/boundary.log",
    benchmark:
        "results/{region}/benchmarks/boundary.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.boundary_args,
    shell:
        "ffnn boundary {params.args} -o {output:q} > {log:q} 2>&1"


# Only where the config's sharp.preprocess is set (JOBS.train_boundary asks for it).
rule preprocess:
    input:
        rules.boundary.output,
    output:
        "results/{region}/preprocessed.nc",
    log:
        "logs/{region}/preprocess.log",
    benchmark:
        "results/{region}/benchmarks/preprocess.tsv"
    wildcard_constraints:
        region=JOBS.patterns["sharp"],
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.preprocess_args,
    shell:
        "ffnn preprocess {input:q} -o {output:q} {params.args} > {log:q} 2>&1"


rule potential:
    input:
        rules.boundary.output,
    output:
        faces="results/{region}/pf_faces.nc",
        cube="results/{region}/potential.nc",
    log:
        "logs/{region}/potential.log",
    benchmark:
        "results/{region}/benchmarks/potential.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.potential_args,
    shell:
        "ffnn potential {input:q} -o {output.faces:q} --cube {output.cube:q} {params.args} "
        "> {log:q} 2>&1"


# Training checkpoints into results/{region}/train/checkpoint.pt, which is not a declared
# output: Snakemake keeps it when a job fails or is killed, and the rerun resumes from it.
# Settings: the config's train block with the region's overrides, passed as --set. A
# series snapshot starts from the previous snapshot's model (init).
rule train:
    input:
        boundary=JOBS.train_boundary,
        potential=rules.potential.output.cube,
        init=JOBS.init_model,
    output:
        model="results/{region}/train/model.pt",
        record="results/{region}/train/train.json",
        loss="results/{region}/train/loss.csv",
    log:
        "logs/{region}/train.log",
    benchmark:
        "results/{region}/benchmarks/train.tsv"
    threads: JOBS.resources["train"]["threads"]
    resources:
        mem_mb=JOBS.resources["train"]["mem_mb"],
        runtime=JOBS.resources["train"]["runtime"],
        gpu=JOBS.resources["train"]["gpu"],
    params:
        outdir=lambda wildcards, output: str(Path(output.model).parent),
        args=JOBS.train_args,
        init=JOBS.init_model_arg,
    shell:
        "ffnn train {input.boundary:q} --potential {input.potential:q} --outdir {params.outdir:q} "
        "--threads {threads} {params.init} {params.args} > {log:q} 2>&1"


rule cube:
    input:
        rules.train.output.model,
    output:
        "results/{region}/cube.nc",
    log:
        "logs/{region}/cube.log",
    benchmark:
        "results/{region}/benchmarks/cube.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn cube {input:q} -o {output:q} > {log:q} 2>&1"


rule quality:
    input:
        cube=rules.cube.output[0],
        potential=rules.potential.output.cube,
        boundary=rules.boundary.output[0],
        train=rules.train.output.record,
    output:
        quality="results/{region}/quality.json",
        profiles="results/{region}/profiles.nc",
    log:
        "logs/{region}/quality.log",
    benchmark:
        "results/{region}/benchmarks/quality.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn quality {input.cube:q} --potential {input.potential:q} --boundary {input.boundary:q} "
        "--train {input.train:q} --region {wildcards.region} -o {output.quality:q} "
        "--profiles {output.profiles:q} > {log:q} 2>&1"
