from finops_cli.cli.app import main

main()
