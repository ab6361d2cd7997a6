from kohya_prep.cli import main

main()
