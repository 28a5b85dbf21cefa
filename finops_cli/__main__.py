from finops_cli.cli.app import run

run()
