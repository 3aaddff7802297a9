from datasource.app import main

main()
