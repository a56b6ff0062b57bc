from fpvsync.cli import main

main()
