"""Files to passages: decode bytes, read each format, clean and date the article, cut it
into passages and sentences. Every offset points into the text stored with the document."""
