from auth.app import main

main()
