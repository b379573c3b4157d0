from cstar_cli._entry import main

main()
