from optlab.cli import main

main()
