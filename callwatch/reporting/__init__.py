"""``callwatch report``: where the records come from, and the HTML and PDF made of them."""
