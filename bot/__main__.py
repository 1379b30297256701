from khabar.bot.cli import main

main()
