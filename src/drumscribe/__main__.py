"""``python -m drumscribe`` runs the CLI."""

from drumscribe.cli import main

if __name__ == "__main__":
    main()
