# Time series of a region (config series.sheet; ffnn.pipeline.series): the checkpoint
# series_records lists the SHARP records JSOC holds in the series' range (one keyword
# query); each becomes a snapshot region <series>/<T_REC> whose record snapshot_record
# copies from that list, and which then runs through the rules of every SHARP region
# (fetch_sharp, boundary, potential, train, cube, quality, figures, summary_row). Each
# snapshot's training starts from the previous snapshot's model (train's init input), so
# the chain runs in order, on a cluster too, and a rerun skips what is done. series
# gathers the snapshots' rows into series.nc and the series figure.


# a snapshot's resolve.json comes from its series' record list, not from a second query
ruleorder: snapshot_record > resolve


checkpoint series_records:
    output:
        "results/{series}/records.json",
    log:
        "logs/{series}/series_records.log",
    benchmark:
        "results/{series}/benchmarks/series_records.tsv"
    wildcard_constraints:
        series=JOBS.patterns["series"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        jsoc=1,
    params:
        args=JOBS.series_records_args,
        jsoc=JOBS.jsoc_args,
    shell:
        "ffnn series-records {params.args} {params.jsoc} -o {output:q} > {log:q} 2>&1"


rule snapshot_record:
    input:
        rules.series_records.output,
    output:
        "results/{series}/{stamp}/resolve.json",
    log:
        "logs/{series}/{stamp}/snapshot_record.log",
    benchmark:
        "results/{series}/{stamp}/benchmarks/snapshot_record.tsv"
    wildcard_constraints:
        series=JOBS.patterns["series"],
        stamp=r"\d{8}_\d{6}_TAI",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "ffnn snapshot-record {input:q} --snapshot {wildcards.stamp} -o {output:q} > {log:q} 2>&1"


rule series:
    input:
        rows=series_rows,
        records=rules.series_records.output[0],
        flares=JOBS.series_flares,
    output:
        nc="results/{series}/series.nc",
        figure=report(
            "results/{series}/series.png",
            caption="../report/series.rst",
            category="Series",
            subcategory="{series}",
            labels={"series": "{series}", "figure": "quantities against time"},
        ),
    log:
        "logs/{series}/series.log",
    benchmark:
        "results/{series}/benchmarks/series.tsv"
    wildcard_constraints:
        series=JOBS.patterns["series"],
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        dpi=config["figures"]["dpi"],
    shell:
        "ffnn series {input.rows:q} --records {input.records:q} --flares {input.flares:q} "
        "--dpi {params.dpi} --nc {output.nc:q} --figure {output.figure:q} > {log:q} 2>&1"
