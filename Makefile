# The two entry points; everything they need is installed by the scripts they call.
.PHONY: demo demo-ui demo-ui-stop screenshots test synth bindings upgrade

demo:            ## run the whole pipeline locally (Spark local mode, local MLflow, airflow dags test)
	bash scripts/demo.sh

demo-ui:         ## the MLflow and Airflow UIs of the last local run, on loopback (prints the links)
	bash scripts/demo-ui.sh start

demo-ui-stop:    ## stop them
	bash scripts/demo-ui.sh stop

screenshots:     ## a fresh local run, opened in headless Chromium: the README's pictures in docs/images/
	bash scripts/screenshots.sh

test:            ## the whole test suite (what CI runs)
	bash scripts/test-all.sh

synth:           ## synthesize the Terraform JSON into cdktf.out/
	bash scripts/synth.sh

bindings:        ## rebuild the provider, re-extract its schema, regenerate .gen/
	bash scripts/regenerate-bindings.sh

upgrade:         ## pin MLFLOW= PYSPARK= AIRFLOW= AIRFLOW_PROVIDERS_YANDEX= in versions.json, re-lock everything
	bash scripts/upgrade.sh $(MAKEOVERRIDES)
