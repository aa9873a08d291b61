# The two entry points; everything they need is installed by the scripts they call.
.PHONY: demo demo-ui demo-ui-stop screenshots test synth bindings check-deploy upgrade cost

demo:            ## run the whole pipeline locally (Spark local mode, local MLflow, airflow dags test)
	bash scripts/demo/demo.sh

demo-ui:         ## the MLflow and Airflow UIs of the last local run, on loopback (prints the links)
	bash scripts/demo/demo-ui.sh start

demo-ui-stop:    ## stop them
	bash scripts/demo/demo-ui.sh stop

screenshots:     ## a fresh local run, opened in headless Chromium: the README's pictures in docs/images/
	bash scripts/demo/screenshots.sh

test:            ## the whole test suite (what CI runs)
	bash scripts/test/test-all.sh

synth:           ## synthesize the Terraform JSON into cdktf.out/
	bash scripts/deploy/synth.sh

bindings:        ## rebuild the provider, re-extract its schema, regenerate .gen/
	bash scripts/toolchain/regenerate-bindings.sh

# After `cdktf deploy yc-mlops`: reads the stack's outputs (cdktf output, or OUTPUTS=FILE made before)
# and proves the platform works: scripts/deploy/check_deploy.py (README: "Check a deployment").
# ARGS passes options, e.g. ARGS="--airflow-ca airflow.crt --timeout 7200".
check-deploy:    ## prove a deployed platform works: both endpoints, closed ports, one DAG run, the summary
	@if [ -z "$(OUTPUTS)" ]; then mkdir -p .work && npx --no-install cdktf output yc-mlops \
	  --outputs-file .work/stack-outputs.json >/dev/null; fi
	python3 scripts/deploy/check_deploy.py --outputs "$(or $(OUTPUTS),.work/stack-outputs.json)" $(ARGS)

# The Data Proc cluster's monthly cost under each dataproc.lifecycle, for the config synth reads
# ($YC_MLOPS_CONFIG, else config.example.json). ARGS overrides the times, e.g. ARGS="--run-min 6".
cost:            ## what the cluster costs a month as always-on, stop-between-runs and per-run (README: "What each lifecycle costs")
	bash scripts/deploy/lifecycle-cost.sh $(ARGS)

upgrade:         ## pin MLFLOW= PYSPARK= AIRFLOW= AIRFLOW_PROVIDERS_YANDEX= in versions.json, re-lock everything
	bash scripts/toolchain/upgrade.sh $(MAKEOVERRIDES)
